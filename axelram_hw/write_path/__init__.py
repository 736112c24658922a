"""The write path: a rotated key's norm, norm-scaled thresholds and Lloyd–Max indices."""
