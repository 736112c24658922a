"""Building blocks shared by every path: FIFOs, pipelined multipliers, pipeline registers and the
parameter checks. Nothing here knows the AXELRAM data path."""
