"""In-order scoreboard: expected items queued by the testbench, observed items compared bit for
bit as they arrive; the report names the first mismatches (index, label, got, want)."""

from collections import deque

__all__ = ["Scoreboard", "Deferred"]


class Deferred:
    """An expectation computed when the item arrives: ``compute()`` returns the acceptable
    values (more than one only where the DUT's contract allows a choice)."""

    __slots__ = ("compute",)

    def __init__(self, compute):
        self.compute = compute


class Scoreboard:
    """Compare a stream of observed items with the expected ones, in order.

    ``expect(want, label)`` queues an item (a value or a :class:`Deferred`); ``observe(got)``
    takes the next one and records a mismatch if ``got`` is not (one of) the wanted value(s);
    ``check()`` raises ``AssertionError`` listing the first ``max_report`` problems, if any item
    mismatched, arrived unexpected, or is still missing.
    """

    def __init__(self, name, max_report=5):
        self.name = name
        self.max_report = max_report
        self._expected = deque()
        self.observed = 0
        self.matched = 0
        self.mismatches = []     # (index, label, got, wants)
        self.unexpected = []     # (index, got)
        self.dropped = 0

    def expect(self, want, label=""):
        self._expected.append((want, label))

    @property
    def outstanding(self):
        return len(self._expected)

    def observe(self, got):
        index = self.observed
        self.observed += 1
        if not self._expected:
            self.unexpected.append((index, got))
            return
        want, label = self._expected.popleft()
        wants = want.compute() if isinstance(want, Deferred) else [want]
        if got in wants:
            self.matched += 1
        else:
            self.mismatches.append((index, label, got, wants))

    def drop_outstanding(self):
        """Forget every expected item (a reset dropped them in the DUT); returns how many."""
        n = len(self._expected)
        self.dropped += n
        self._expected.clear()
        return n

    @property
    def ok(self):
        return not self.mismatches and not self.unexpected and not self._expected

    def report(self):
        lines = [f"{self.name}: {self.observed} observed, {self.matched} matched, "
                 f"{len(self.mismatches)} mismatched, {len(self.unexpected)} unexpected, "
                 f"{len(self._expected)} missing"]
        for index, label, got, wants in self.mismatches[:self.max_report]:
            want = (wants[0] if len(wants) == 1 else f"one of {wants}" if wants
                    else "nothing: the DUT state is unknown here (an earlier test failed?)")
            where = _first_difference(got, wants[0]) if len(wants) == 1 else ""
            lines.append(f"  item {index}{f' ({label})' if label else ''}: got {got}, "
                         f"want {want}{where}")
        for index, got in self.unexpected[:self.max_report]:
            lines.append(f"  item {index}: unexpected {got} (nothing more was expected)")
        for want, label in list(self._expected)[:self.max_report]:
            shown = "(computed on arrival)" if isinstance(want, Deferred) else want
            lines.append(f"  missing{f' ({label})' if label else ''}: {shown}")
        return "\n".join(lines)

    def check(self):
        if not self.ok:
            raise AssertionError(self.report())


def _first_difference(got, want, path=""):
    """`` (first difference at <path>: got x, want y)`` for nested dicts/lists, else ``""``."""
    if isinstance(got, dict) and isinstance(want, dict):
        for key in want:
            if key in got and got[key] != want[key]:
                return _first_difference(got[key], want[key], f"{path}.{key}" if path else key)
    elif isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if g != w:
                return _first_difference(g, w, f"{path}[{i}]")
    elif path:
        return f" (first difference at {path}: got {got}, want {want})"
    return ""
