"""Sliding-window building blocks with written limits: a timeline and a distinct-key window.

Both drop entries older than their span as time moves on, and both cap how many entries they
keep, so a merchant with a million payers costs the same memory as one with a thousand (its
counts are then floors, which is what a detector needs anyway: "at least this many").
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections import OrderedDict

TIMELINE_SPAN_S = 7 * 86400
TIMELINE_CAP = 4096
DISTINCT_CAP = 4096
COMPACT_AFTER = 256
TRIM_EVERY_MASK = 15  # trim every 16th add: a hot entity holds at most CAP + 16 entries


class Timeline:
    """Event times and running value sums over the last TIMELINE_SPAN_S, for windowed counts.

    Time only moves forward (the feature state places a late event at "now"), so each window's
    start index only moves forward too: four cursors (10 min, 1 h, 24 h, 7 days) walk along
    the timeline instead of searching it, each entry passed once per cursor. A cursor always
    equals `bisect_right(ts, cutoff, head)` for its latest cutoff; it is derived state, so a
    snapshot does not store it (a loaded timeline starts its cursors at 0 and catches up).

    Times and sums are packed doubles (`array("d")`), not lists of float objects: the same
    values, a quarter of the memory, and the week-old entries a cursor walks past sit next to
    each other instead of scattered over the heap (a long stream is bound by cache misses).
    """

    __slots__ = ("c1h", "c7d", "c10", "c24", "cum", "head", "ts")

    def __init__(self) -> None:
        self.ts: array[float] = array("d")
        self.cum: array[float] = array("d", (0.0,))  # cum[i]: sum of values before index i
        self.head = 0
        self.c10 = self.c1h = self.c24 = self.c7d = 0

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
        # a search starts at the head: no cursor may lag behind it
        c10, c1h, c24, c7d = (max(c, head) for c in (self.c10, self.c1h, self.c24, self.c7d))
        if head > COMPACT_AFTER and head * 2 > len(self.ts):
            del self.ts[:head]
            del self.cum[:head]
            c10, c1h, c24, c7d = c10 - head, c1h - head, c24 - head, c7d - head
            head = 0
        self.head = head
        self.c10, self.c1h, self.c24, self.c7d = c10, c1h, c24, c7d

    def windows(self, now: float) -> tuple[int, int, int, int, float, float, float]:
        """Counts over 10 min, 1 h, 24 h, 7 days and sums over 1 h, 24 h, 7 days, in one go."""
        ts = self.ts
        n = len(ts)
        if not n:
            return 0, 0, 0, 0, 0.0, 0.0, 0.0
        last_t = ts[-1]
        cut = now - 600.0
        i10 = self.c10
        if last_t <= cut:
            i10 = n
        else:
            while ts[i10] <= cut:
                i10 += 1
        cut = now - 3600.0
        i1h = self.c1h
        if last_t <= cut:
            i1h = n
        else:
            while ts[i1h] <= cut:
                i1h += 1
        cut = now - 86400.0
        i24 = self.c24
        if last_t <= cut:
            i24 = n
        else:
            while ts[i24] <= cut:
                i24 += 1
        cut = now - 604800.0
        i7d = self.c7d
        if last_t <= cut:
            i7d = n
        else:
            while ts[i7d] <= cut:
                i7d += 1
        self.c10, self.c1h, self.c24, self.c7d = i10, i1h, i24, i7d
        cum = self.cum
        last = cum[-1]
        return n - i10, n - i1h, n - i24, n - i7d, last - cum[i1h], last - cum[i24], last - cum[i7d]

    def count_1h(self, now: float) -> int:
        """Events strictly after NOW - 1 h."""
        ts = self.ts
        n = len(ts)
        if not n:
            return 0
        cut = now - 3600.0
        if ts[-1] <= cut:
            self.c1h = n
            return 0
        i = self.c1h
        while ts[i] <= cut:
            i += 1
        self.c1h = i
        return n - i

    def sum_7d(self, now: float) -> float:
        """Sum of values strictly after NOW - 7 days."""
        ts = self.ts
        n = len(ts)
        if not n:
            return 0.0
        cut = now - 604800.0
        i = self.c7d
        if ts[-1] <= cut:
            i = n
        else:
            while ts[i] <= cut:
                i += 1
        self.c7d = i
        cum = self.cum
        return cum[-1] - cum[i]

    def count_since(self, cutoff: float) -> int:
        """Events strictly after CUTOFF (a search: for any cutoff, not only the windows')."""
        return len(self.ts) - bisect_right(self.ts, cutoff, self.head)

    def sum_since(self, cutoff: float) -> float:
        return self.cum[-1] - self.cum[bisect_right(self.ts, cutoff, self.head)]

    def dump(self) -> list[list[float]]:
        base = self.cum[self.head]
        return [self.ts[self.head :].tolist(), [c - base for c in self.cum[self.head + 1 :]]]

    @classmethod
    def load(cls, data: list[list[float]]) -> Timeline:
        tl = cls()
        tl.ts = array("d", data[0])
        tl.cum = array("d", [0.0, *data[1]])
        return tl


class Distinct:
    """Keys seen in the last SPAN seconds, oldest first, for distinct counts.

    `low` is a lower bound on the oldest key's time (keys only ever arrive with the latest
    time), so a count whose cutoff is below it needs no look at the keys at all.
    """

    __slots__ = ("keys", "low", "span")

    def __init__(self, span: float) -> None:
        self.span = span
        self.keys: OrderedDict[str, float] = OrderedDict()
        self.low = float("-inf")

    def count(self, now: float) -> int:
        """Distinct keys seen after NOW - span (expired ones are dropped on the way)."""
        cutoff = now - self.span
        keys = self.keys
        if cutoff < self.low:
            return len(keys)
        while keys:
            first = next(iter(keys))
            oldest = keys[first]
            if oldest > cutoff:
                self.low = oldest
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
