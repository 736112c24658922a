"""The read path: the index store, the per-query look-up table and the scorer."""
