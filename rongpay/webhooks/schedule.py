"""When to try a failed delivery again: exponential backoff with jitter, for up to 3 days.

After the Nth failed attempt the next one waits delays[N-1] (the last delay repeats), give or
take JITTER_PCT percent so endpoints that failed together do not all come back together.
A delivery whose next attempt would fall later than GIVE_UP_AFTER after its creation fails
for good. The defaults (1 min, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, ...) make about 12
attempts over 3 days. Tests pass their own Schedule, in milliseconds, to run in moments.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DEFAULT_DELAYS_MS = (MINUTE_MS, 5 * MINUTE_MS, 30 * MINUTE_MS, 2 * HOUR_MS, 5 * HOUR_MS,
                     10 * HOUR_MS)  # fmt: skip
GIVE_UP_AFTER_MS = 3 * 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class Schedule:
    delays_ms: tuple[int, ...] = DEFAULT_DELAYS_MS
    give_up_after_ms: int = GIVE_UP_AFTER_MS
    jitter_pct: int = 10

    def __post_init__(self) -> None:
        assert self.delays_ms and all(d >= 0 for d in self.delays_ms)
        assert 0 <= self.jitter_pct < 100

    def delay_ms(self, failed_attempts: int, rand: random.Random) -> int:
        """The wait after FAILED_ATTEMPTS (>= 1) failures in a row."""
        assert failed_attempts >= 1
        base = self.delays_ms[min(failed_attempts, len(self.delays_ms)) - 1]
        spread = base * self.jitter_pct // 100
        return base + (rand.randint(-spread, spread) if spread else 0)

    def next_attempt_ms(
        self, created_ms: int, failed_attempts: int, now_ms: int, rand: random.Random
    ) -> int | None:
        """When to try next, or None: give up (past the window since CREATED_MS)."""
        at = now_ms + self.delay_ms(failed_attempts, rand)
        return None if at > created_ms + self.give_up_after_ms else at


DEFAULT_SCHEDULE = Schedule()
