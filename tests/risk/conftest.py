"""Fixtures for risk tests: a small simulated traffic file and an event factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rongpay.risk.event import Event, event_from_mapping
from rongpay.sim.generator import SimConfig, write_jsonl

T0 = 1_790_000_000  # 2026-09-21T14:13:20Z


@pytest.fixture(scope="session")
def sim_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "events.jsonl"
    write_jsonl(SimConfig(days=10, customers=800, merchants=60, seed=11), path)
    return path


def make(**fields: Any) -> dict[str, Any]:
    """An event dict with sensible defaults; `t` is seconds after T0."""
    import datetime as dt

    t = fields.pop("t", 0)
    base = {
        "id": f"e{t}",
        "ts": dt.datetime.fromtimestamp(T0 + t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": "payment",
        "amount_minor": 10_000,
        "currency": "CNY",
        "payer": "acct_a",
        "payee": "acct_m",
        "payer_country": "CN",
        "payee_country": "CN",
        "channel": "card",
        "device_id": "dev_1",
        "ip": "1.1.1.1",
        "mcc": "5411",
    }
    base.update(fields)
    return base


@pytest.fixture
def ev() -> Callable[..., Event]:
    def build(**fields: Any) -> Event:
        return event_from_mapping(make(**fields))

    return build
