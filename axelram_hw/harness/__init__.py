"""Measurement and board harnesses around the macro."""
