"""Seeded pause generators for stream sources (hold valid low) and sinks (hold ready low).

A pause generator is an infinite iterator of bools, one per clock: ``True`` pauses that clock.
"""

import itertools
import random

__all__ = ["never", "random_pause", "burst_pause", "make_pause"]


def never():
    """No pauses: full throughput."""
    return itertools.repeat(False)


def random_pause(seed, p):
    """Each clock paused with probability ``p``, independently."""
    rng = random.Random(seed)
    while True:
        yield rng.random() < p


def burst_pause(seed, p, mean_burst=8):
    """Pauses in bursts (geometric lengths, mean ``mean_burst``), ``p`` of the clocks overall."""
    rng = random.Random(seed)
    paused = False
    # Leave a run with probability q_off (paused) or q_on (running) per clock.
    q_off = 1.0 / mean_burst
    q_on = q_off * p / (1.0 - p) if p < 1 else 1.0
    while True:
        if rng.random() < (q_off if paused else q_on):
            paused = not paused
        yield paused


def make_pause(kind, seed, p=0.3):
    """``"none"``, ``"random"`` or ``"burst"`` by name."""
    if kind == "none" or p <= 0:
        return never()
    if kind == "random":
        return random_pause(seed, p)
    if kind == "burst":
        return burst_pause(seed, p)
    raise ValueError(f"pause kind must be none, random or burst, not {kind!r}")
