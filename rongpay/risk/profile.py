"""User profiles: a customer's habits as the feature state knows them, for people to read."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from rongpay.risk.features import FeatureState

TOP_N = 5


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _top(counts: dict[str, int]) -> list[dict[str, Any]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
    return [{"value": k, "count": v} for k, v in ranked]


def profile(state: FeatureState, account: str) -> dict[str, Any] | None:
    """ACCOUNT's habits, or None when the state has never seen it."""
    acc = state.accounts.get(account)
    if acc is None:
        return None
    std = math.sqrt(acc.m2 / (acc.n - 1)) if acc.n > 1 else 0.0
    busiest = sorted(range(24), key=lambda h: -acc.hours[h])[:3]
    return {
        "account": account,
        "first_seen": _iso(acc.first_ts),
        "last_seen": _iso(acc.last_ts),
        "outgoing_events": acc.n,
        "typical_amount_cny": round(math.expm1(acc.mean), 2) if acc.n else None,
        "amount_spread_log": round(std, 3),
        "largest_amount_cny": round(math.expm1(acc.max_log), 2) if acc.n else None,
        "busiest_hours_utc": [h for h in busiest if acc.hours[h] > 0],
        "hour_histogram_utc": acc.hours,
        "devices": _top(acc.devices),
        "ips": _top(acc.ips),
        "payees": _top(acc.payees),
        "countries": _top(acc.countries),
        "currencies": _top(acc.currencies),
        "distinct": {
            name: len(getattr(acc, name)) for name in ("devices", "ips", "payees", "countries")
        },
    }
