"""pytest suite; the layout mirrors the source tree, shared helpers are in ``tests.support``."""
