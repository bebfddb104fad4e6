"""Sliding-window building blocks with written limits: a timeline and a distinct-key window.

Both drop entries older than their span as time moves on, and both cap how many entries they
keep, so a merchant with a million payers costs the same memory as one with a thousand (its
counts are then floors, which is what a detector needs anyway: "at least this many").
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict

TIMELINE_SPAN_S = 7 * 86400
TIMELINE_CAP = 4096
DISTINCT_CAP = 4096
COMPACT_AFTER = 256
TRIM_EVERY_MASK = 15  # trim every 16th add: a hot entity holds at most CAP + 16 entries


class Timeline:
    """Event times and running value sums over the last TIMELINE_SPAN_S, for windowed counts."""

    __slots__ = ("cum", "head", "ts")

    def __init__(self) -> None:
        self.ts: list[float] = []
        self.cum: list[float] = [0.0]  # cum[i]: sum of values before index i
        self.head = 0

    def add(self, ts: float, value: float) -> None:
        times = self.ts
        times.append(ts)
        cum = self.cum
        cum.append(cum[-1] + value)
        if len(times) & TRIM_EVERY_MASK == 0:
            self._trim(ts)

    def _trim(self, now: float) -> None:
        """Move the head past expired entries (counts never look past the span anyway)."""
        head = bisect_right(self.ts, now - TIMELINE_SPAN_S, self.head)
        head = max(head, len(self.ts) - TIMELINE_CAP)
        if head > COMPACT_AFTER and head * 2 > len(self.ts):
            del self.ts[:head]
            del self.cum[:head]
            head = 0
        self.head = head

    def windows(self, now: float) -> tuple[int, int, int, int, float, float, float]:
        """Counts over 10 min, 1 h, 24 h, 7 days and sums over 1 h, 24 h, 7 days, in one go
        (each search is bounded by the previous one: longer windows start earlier)."""
        ts, cum, head = self.ts, self.cum, self.head
        n = len(ts)
        i10 = bisect_right(ts, now - 600.0, head)
        i1h = bisect_right(ts, now - 3600.0, head, i10)
        i24 = bisect_right(ts, now - 86400.0, head, i1h)
        i7d = bisect_right(ts, now - 604800.0, head, i24)
        last = cum[-1]
        return n - i10, n - i1h, n - i24, n - i7d, last - cum[i1h], last - cum[i24], last - cum[i7d]

    def count_since(self, cutoff: float) -> int:
        """Events strictly after CUTOFF."""
        return len(self.ts) - bisect_right(self.ts, cutoff, self.head)

    def sum_since(self, cutoff: float) -> float:
        return self.cum[-1] - self.cum[bisect_right(self.ts, cutoff, self.head)]

    def dump(self) -> list[list[float]]:
        base = self.cum[self.head]
        return [self.ts[self.head :], [c - base for c in self.cum[self.head + 1 :]]]

    @classmethod
    def load(cls, data: list[list[float]]) -> Timeline:
        tl = cls()
        tl.ts = list(data[0])
        tl.cum = [0.0, *data[1]]
        return tl


class Distinct:
    """Keys seen in the last SPAN seconds, oldest first, for distinct counts."""

    __slots__ = ("keys", "span")

    def __init__(self, span: float) -> None:
        self.span = span
        self.keys: OrderedDict[str, float] = OrderedDict()

    def count(self, now: float) -> int:
        """Distinct keys seen after NOW - span (expired ones are dropped on the way)."""
        keys, cutoff = self.keys, now - self.span
        while keys:
            first = next(iter(keys))
            if keys[first] > cutoff:
                break
            del keys[first]
        return len(keys)

    def observe(self, key: str, ts: float) -> None:
        keys = self.keys
        if key in keys:
            keys.move_to_end(key)
        elif len(keys) >= DISTINCT_CAP:
            keys.popitem(last=False)
        keys[key] = ts

    def dump(self) -> list[tuple[str, float]]:
        return list(self.keys.items())

    @classmethod
    def load(cls, span: float, items: list[list[object]]) -> Distinct:
        d = cls(span)
        for key, ts in items:
            d.keys[str(key)] = float(ts)  # type: ignore[arg-type]
        return d


def bump(counts: dict[str, int], key: str, cap: int) -> bool:
    """Count KEY in a capped habit map; True when KEY was new. The oldest key makes room."""
    seen = counts.get(key)
    if seen is None:
        if len(counts) >= cap:
            del counts[next(iter(counts))]
        counts[key] = 1
        return True
    counts[key] = seen + 1
    return False
