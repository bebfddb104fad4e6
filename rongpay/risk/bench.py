"""`rongpay bench risk`: decision latency and file throughput, model beside rules-only.

Both runs use the same traffic (the CLI simulates it) in the same process. Latency is per
`decide` call, state warming as it goes;
throughput is `rongpay risk score` end to end (parse, features, model, rules, JSON out).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from rongpay.risk.engine import RiskEngine
from rongpay.risk.event import Event, event_from_mapping
from rongpay.risk.model import Model
from rongpay.risk.rules import RuleSet
from rongpay.risk.service import score_file

MAX_EVENTS = 2_000_000
ROUNDS = 2


def _latency(engine: RiskEngine, events: list[Event]) -> dict[str, float]:
    lat = np.empty(len(events))
    clock = time.perf_counter_ns
    for i, ev in enumerate(events):
        t0 = clock()
        engine.decide(ev)
        lat[i] = clock() - t0
    ms = lat / 1e6
    return {
        "latency_ms_p50": round(float(np.percentile(ms, 50)), 4),
        "latency_ms_p99": round(float(np.percentile(ms, 99)), 4),
        "latency_ms_max": round(float(ms.max()), 4),
    }


def _throughput(engine: RiskEngine, path: Path) -> tuple[float, float]:
    """Events per wall-clock second and per CPU second (the machine may be shared)."""
    with open(os.devnull, "wb") as sink:
        t0, c0 = time.perf_counter(), time.process_time()
        summary = score_file(engine, path, sink.write, lambda r: None)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return round(summary.scored / elapsed, 1), round(summary.scored / max(cpu, 1e-9), 1)


def run(path: Path, model: Model, rules: RuleSet) -> dict[str, Any]:
    """Measure the model engine and the rules-only engine on the events of PATH."""
    events = [
        event_from_mapping(orjson.loads(line))
        for line in path.read_bytes().splitlines()[:MAX_EVENTS]
    ]
    full = _latency(RiskEngine(model, rules), events)
    only = _latency(RiskEngine(None, rules), events)
    # Alternate the two runs and keep each one's best, so a burst of load from another
    # process on a shared machine does not land on one side only.
    runs = [
        (_throughput(RiskEngine(model, rules), path), _throughput(RiskEngine(None, rules), path))
        for _ in range(ROUNDS)
    ]
    full_tp, full_cpu = max(r[0][0] for r in runs), max(r[0][1] for r in runs)
    only_tp, only_cpu = max(r[1][0] for r in runs), max(r[1][1] for r in runs)
    return {
        "events": len(events),
        "model_version": model.version,
        "rules_version": rules.version,
        **full,
        "events_per_s": full_tp,
        "events_per_cpu_s": full_cpu,
        **{f"rules_only_{k}": v for k, v in only.items()},
        "rules_only_events_per_s": only_tp,
        "rules_only_events_per_cpu_s": only_cpu,
        "targets": {"latency_ms_p99": 2.0, "events_per_s": 20000},
    }
