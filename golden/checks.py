"""Generic parameter checks with the project's one message shape.

``"d must be a power of two between 16 and 512, not 100"``: every range check of the golden
model, the calibration and the configuration goes through :func:`check_int_range`, so the
messages (pinned by the tests) have the same form everywhere. This module imports nothing from
the rest of ``golden``.
"""

__all__ = ["check_int_range"]


def check_int_range(name, value, lo, hi, *, power_of_two=False):
    """Raise the project's standard error unless ``value`` is an int in [lo, hi].

    Parameters
    ----------
    name : str
        The parameter's name, as the user knows it.
    value : object
        The value to check; ``bool`` is not accepted as an int.
    lo, hi : int
        Inclusive bounds.
    power_of_two : bool
        Also require a power of two.

    Raises
    ------
    ValueError
        ``"{name} must be {an integer | a power of two} between {lo} and {hi}, not {value!r}"``.
    """
    kind = "a power of two" if power_of_two else "an integer"
    ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
    if ok and power_of_two:
        ok = value & (value - 1) == 0
    if not ok:
        raise ValueError(f"{name} must be {kind} between {lo} and {hi}, not {value!r}")
