"""Feature state that survives a restart: a versioned JSON snapshot, written atomically.

A snapshot holds exactly what `FeatureState` holds (windows, habit maps, profiles), so scoring
file A, saving, restarting and scoring file B gives the same answers as scoring A then B in one
process. JSON rather than pickle: reading a snapshot can never run code.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import orjson

from rongpay.risk.errors import StateFileError
from rongpay.risk.features import DAY_S, WEEK_S, Account, Endpoint, FeatureState, StateLimits
from rongpay.risk.windows import Distinct, Timeline

STATE_FORMAT = "rongpay-risk-state/1"
ACCOUNT_MAPS = ("devices", "ips", "payees", "countries", "currencies")


def _dump_account(a: Account) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "out": a.out.dump(), "inflow": a.inflow.dump(), "small": a.small.dump(),
        "payees24": a.payees24.dump(), "payers24": a.payers24.dump(),
        "payers7d": a.payers7d.dump(),
        "devices24": a.devices24.dump(), "n": a.n, "mean": a.mean, "m2": a.m2,
        "max_log": a.max_log, "first_ts": a.first_ts, "last_ts": a.last_ts,
        "last_out_ts": a.last_out_ts, "hours": a.hours,
    }  # fmt: skip
    for name in ACCOUNT_MAPS:
        doc[name] = getattr(a, name)
    return doc


def _load_account(d: dict[str, Any]) -> Account:
    a = Account(float(d["first_ts"]))
    a.out, a.inflow, a.small = (Timeline.load(d[k]) for k in ("out", "inflow", "small"))
    a.payees24 = Distinct.load(DAY_S, d["payees24"])
    a.payers24 = Distinct.load(DAY_S, d["payers24"])
    a.payers7d = Distinct.load(WEEK_S, d["payers7d"])
    a.devices24 = Distinct.load(DAY_S, d["devices24"])
    a.n, a.mean, a.m2, a.max_log = (
        int(d["n"]),
        float(d["mean"]),
        float(d["m2"]),
        float(d["max_log"]),
    )
    a.last_ts, a.last_out_ts = float(d["last_ts"]), float(d["last_out_ts"])
    a.hours = [int(h) for h in d["hours"]]
    if len(a.hours) != 24:
        raise ValueError("an hour-of-day histogram needs 24 bins")
    for name in ACCOUNT_MAPS:
        setattr(a, name, {str(k): int(v) for k, v in d[name].items()})
    return a


def _dump_endpoint(e: Endpoint) -> dict[str, Any]:
    return {"tl": e.tl.dump(), "payers24": e.payers24.dump(), "payers7d": e.payers7d.dump(),
            "first_ts": e.first_ts, "last_ts": e.last_ts}  # fmt: skip


def _load_endpoint(d: dict[str, Any]) -> Endpoint:
    e = Endpoint(float(d["first_ts"]))
    e.tl = Timeline.load(d["tl"])
    e.payers24 = Distinct.load(DAY_S, d["payers24"])
    e.payers7d = Distinct.load(WEEK_S, d["payers7d"])
    e.last_ts = float(d["last_ts"])
    return e


def save_state(state: FeatureState, path: Path) -> None:
    doc = {
        "format": STATE_FORMAT,
        "now": state.now if math.isfinite(state.now) else None,
        "seen": state.seen,
        "accounts": {k: _dump_account(v) for k, v in state.accounts.items()},
        "devices": {k: _dump_endpoint(v) for k, v in state.devices.items()},
        "ips": {k: _dump_endpoint(v) for k, v in state.ips.items()},
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(orjson.dumps(doc))
        os.replace(tmp, path)
    except OSError as exc:
        raise StateFileError(f"cannot write state file {path}: {exc.strerror}") from None


def load_state(path: Path, limits: StateLimits | None = None) -> FeatureState:
    """The state saved at PATH; a fresh state when PATH does not exist yet."""
    state = FeatureState(limits)
    if not path.exists():
        return state
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise StateFileError(f"cannot read state file {path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
        raise StateFileError(f"{path} is not a rongpay risk state file ({STATE_FORMAT})")
    try:
        state.now = float(doc["now"]) if doc["now"] is not None else float("-inf")
        state.seen = int(doc["seen"])
        state.accounts = {str(k): _load_account(v) for k, v in doc["accounts"].items()}
        state.devices = {str(k): _load_endpoint(v) for k, v in doc["devices"].items()}
        state.ips = {str(k): _load_endpoint(v) for k, v in doc["ips"].items()}
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise StateFileError(
            f"state file {path} is corrupt ({type(exc).__name__}: {exc})"
        ) from None
    return state
