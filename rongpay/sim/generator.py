"""Run the world day by day and write events in DESIGN.md's JSON Lines format, in time order.

Memory stays bounded by one day of traffic plus the (small) set of already planned future
events: fraud and laundering cases, refunds, bill splits that cross midnight.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from rongpay.sim.aml import awake, plan_aml
from rongpay.sim.fraud import plan_fraud
from rongpay.sim.traffic import FIELDS, LOCAL_OFFSET_S, DayClock, Event, HonestTraffic
from rongpay.sim.world import build_world

MAX_DAYS = 3660
MAX_CUSTOMERS = 2_000_000
MAX_MERCHANTS = 200_000
DEFAULT_START = dt.date(2026, 10, 1)
WRITE_CHUNK = 8192


class SimConfigError(ValueError):
    """A simulation parameter is out of range."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    days: int
    customers: int
    merchants: int
    seed: int = 0
    start: dt.date = DEFAULT_START

    def check(self) -> None:
        if not 1 <= self.days <= MAX_DAYS:
            raise SimConfigError(f"--days must be between 1 and {MAX_DAYS}, got {self.days}")
        if not 2 <= self.customers <= MAX_CUSTOMERS:
            raise SimConfigError(
                f"--customers must be between 2 and {MAX_CUSTOMERS}, got {self.customers}"
            )
        if not 1 <= self.merchants <= MAX_MERCHANTS:
            raise SimConfigError(
                f"--merchants must be between 1 and {MAX_MERCHANTS}, got {self.merchants}"
            )


@dataclass(slots=True)
class SimStats:
    events: int = 0
    fraud_events: int = 0
    aml_events: int = 0
    aml_cases: int = 0
    by_label: dict[str, int] = field(default_factory=dict)


class _Timestamps:
    """RFC 3339 strings for epoch seconds, with the date part cached per UTC day."""

    def __init__(self) -> None:
        self.dates: dict[int, str] = {}

    def format(self, ts: int) -> str:
        day, sec = divmod(ts, 86400)
        date = self.dates.get(day)
        if date is None:
            date = dt.datetime.fromtimestamp(day * 86400, dt.UTC).strftime("%Y-%m-%d")
            self.dates[day] = date
        hour, rest = divmod(sec, 3600)
        return f"{date}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def _events(cfg: SimConfig) -> Iterator[Event]:
    rng = random.Random(cfg.seed)
    world = build_world(rng, cfg.days, cfg.customers, cfg.merchants)
    base = int(dt.datetime.combine(cfg.start, dt.time(), dt.UTC).timestamp())
    clock = DayClock(base)
    scheduled: dict[int, list[Event]] = {}

    def day_of(ts: int) -> int:
        return (ts - base + LOCAL_OFFSET_S) // 86400

    def plan(ev: Event) -> None:
        scheduled.setdefault(day_of(ev[0]), []).append(ev)

    fraud_rng, aml_rng = random.Random(rng.getrandbits(64)), random.Random(rng.getrandbits(64))
    plan_aml(aml_rng, world, clock, plan)  # first: it chooses who sleeps
    plan_fraud(fraud_rng, awake(world), clock, plan)
    traffic = HonestTraffic(
        random.Random(rng.getrandbits(64)), world, clock, lambda d, ev: plan(ev)
    )
    for d in range(cfg.days):
        bucket = scheduled.pop(d, [])

        def emit(ev: Event, d: int = d, bucket: list[Event] = bucket) -> None:
            day = day_of(ev[0])
            assert day >= d, "an event was generated for a day already written"
            if day == d:
                bucket.append(ev)
            else:
                scheduled.setdefault(day, []).append(ev)

        date = cfg.start + dt.timedelta(days=d)
        traffic.day(d, date.weekday(), emit)
        traffic.salaries(d, date.day, emit)
        bucket.sort(key=_sort_key)
        yield from bucket


def _sort_key(ev: Event) -> tuple[int, str, str, int]:
    return (ev[0], ev[4], ev[5], ev[2])


def generate(cfg: SimConfig) -> Iterator[dict[str, object]]:
    """Events as dicts in DESIGN.md's format (plus label fields), in time order."""
    cfg.check()
    stamps = _Timestamps()
    names = FIELDS[1:]
    for seq, ev in enumerate(_events(cfg), start=1):
        record: dict[str, object] = {"id": f"evt_{seq:010d}", "ts": stamps.format(ev[0])}
        record.update(zip(names, ev[1:], strict=True))
        yield record


def write_jsonl(cfg: SimConfig, out: Path) -> SimStats:
    """Write the simulation to OUT; return counts for the summary line."""
    stats = SimStats()
    aml_cases: set[str] = set()
    chunk: list[bytes] = []
    with out.open("wb") as fh:
        for record in generate(cfg):
            stats.events += 1
            fraud, aml = record["label_fraud"], record["label_aml"]
            if fraud is not None:
                stats.fraud_events += 1
                stats.by_label[str(fraud)] = stats.by_label.get(str(fraud), 0) + 1
            if aml is not None:
                stats.aml_events += 1
                aml_cases.add(str(record["label_aml_case"]))
                stats.by_label[str(aml)] = stats.by_label.get(str(aml), 0) + 1
            chunk.append(orjson.dumps(record))
            if len(chunk) >= WRITE_CHUNK:
                fh.write(b"\n".join(chunk) + b"\n")
                chunk.clear()
        if chunk:
            fh.write(b"\n".join(chunk) + b"\n")
    stats.aml_cases = len(aml_cases)
    return stats
