"""Hand-built event flows for AML tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import orjson

from rongpay.compliance.aml_engine import Monitor
from rongpay.compliance.aml_scenarios import Alert
from rongpay.compliance.events import parse_event

T0 = datetime(2026, 11, 1, tzinfo=UTC)
_ids = itertools.count(1)


def ev(
    hours: float,
    etype: str,
    yuan: int,
    payer: str,
    payee: str | None = None,
    *,
    currency: str = "CNY",
    payer_country: str = "CN",
    payee_country: str = "CN",
    mcc: str | None = None,
    **extra: object,
) -> dict[str, object]:
    """One event dict; YUAN in major units (minor = x100 for CNY)."""
    ts = T0 + timedelta(hours=hours)
    return {
        "id": f"t{next(_ids)}",
        "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": etype,
        "amount_minor": yuan * 100,
        "currency": currency,
        "payer": payer,
        "payee": payee if payee is not None else payer,
        "payer_country": payer_country,
        "payee_country": payee_country,
        "channel": "bank",
        "mcc": mcc,
        **extra,
    }


def run(events: list[dict[str, object]], monitor: Monitor | None = None) -> list[Alert]:
    monitor = monitor or Monitor()
    alerts: list[Alert] = []
    for n, raw in enumerate(sorted(events, key=lambda e: str(e["ts"])), start=1):
        alerts.extend(monitor.observe(parse_event(raw, n)))
    return alerts


def scenarios(alerts: list[Alert]) -> set[str]:
    return {str(a.scenario) for a in alerts}


def jsonl(events: list[dict[str, object]]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)
