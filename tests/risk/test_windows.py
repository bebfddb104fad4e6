"""Window cursors and distinct-count shortcuts against plain searches over the same history."""

from __future__ import annotations

from bisect import bisect_right

from hypothesis import given, settings
from hypothesis import strategies as st

from rongpay.risk import windows
from rongpay.risk.windows import Distinct, Timeline

# gaps between events: bursts (0 s), minutes, hours, days, and more than a week
STEPS = [0.0, 1.0, 30.0, 599.0, 600.0, 3600.0, 4000.0, 86_400.0, 90_000.0, 604_800.0, 700_000.0]
GAPS = st.lists(st.sampled_from(STEPS), min_size=1, max_size=400)


def _expected(tl: Timeline, now: float) -> tuple[int, ...]:
    ts, head = tl.ts, tl.head
    return tuple(len(ts) - bisect_right(ts, now - span, head)
                 for span in (600.0, 3600.0, 86_400.0, 604_800.0))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(GAPS, st.integers(min_value=0, max_value=3))
def test_cursors_equal_searches(gaps: list[float], every: int) -> None:
    old = windows.TIMELINE_CAP, windows.COMPACT_AFTER
    windows.TIMELINE_CAP, windows.COMPACT_AFTER = 40, 8  # exercise trimming and compaction
    try:
        tl, now = Timeline(), 1_790_000_000.0
        for i, gap in enumerate(gaps):
            now += gap
            if every and i % every == 0:  # queries at some events only: cursors lag, then catch up
                c10, c1h, c24, c7d, s1h, s24, s7d = tl.windows(now)
                assert (c10, c1h, c24, c7d) == _expected(tl, now)
                assert s7d == tl.sum_since(now - 604_800.0)
                assert s1h == tl.sum_since(now - 3600.0) and s24 == tl.sum_since(now - 86_400.0)
            if i % 3 == 0:
                assert tl.count_1h(now) == tl.count_since(now - 3600.0)
                assert tl.sum_7d(now) == tl.sum_since(now - 604_800.0)
            tl.add(now, float(i % 7))
    finally:
        windows.TIMELINE_CAP, windows.COMPACT_AFTER = old


def _slow_count(keys: dict[str, float], cutoff: float) -> int:
    return sum(1 for t in keys.values() if t > cutoff)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), GAPS.map(lambda g: g[0])), max_size=300))
def test_distinct_shortcut_equals_scan(steps: list[tuple[int, float]]) -> None:
    d, now = Distinct(86_400.0), 0.0
    for key, gap in steps:
        now += gap
        assert d.count(now) == _slow_count(dict(d.keys), now - 86_400.0)
        d.observe(f"k{key}", now)


def test_cursors_survive_compaction() -> None:
    old = windows.TIMELINE_CAP, windows.COMPACT_AFTER
    windows.TIMELINE_CAP, windows.COMPACT_AFTER = 40, 8
    try:
        tl, now = Timeline(), 1_790_000_000.0
        for phase in range(6):
            for _ in range(70):
                now += 300.0
                assert tl.windows(now)[:4] == _expected(tl, now)
                tl.add(now, 1.0)
            now += 604_800.0 if phase % 2 else 3_000.0
        assert tl.head < len(tl.ts)
    finally:
        windows.TIMELINE_CAP, windows.COMPACT_AFTER = old


def test_distinct_expires_at_the_span_boundary() -> None:
    d = Distinct(10.0)
    for t in range(30):  # a key a second; a count covers (now - 10, now]: 9 earlier keys
        assert d.count(float(t)) == min(t, 9)
        d.observe(f"k{t}", float(t))
    d.observe("k29", 29.5)
    assert d.count(39.0) == 1 and d.count(39.5) == 0
