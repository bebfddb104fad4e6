"""Charges: one per confirmation attempt of an intent, succeeded, failed or pending, with the
channel's answer (network references, decline) and the risk outcome. Refunds and disputes
hang off the charge that moved the money."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy.engine import Connection

from rongpay.ledger.store import Sql
from rongpay.payments import store
from rongpay.payments.errors import missing
from rongpay.payments.intents import Intent
from rongpay.payments.render import public_method
from rongpay.payments.types import ChargeStatus, new_id

if TYPE_CHECKING:
    from rongpay.payments.ops import Change


def new_row(intent: Intent, status: ChargeStatus, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": new_id("ch"), "intent_id": intent.id, "merchant_id": intent.merchant_id,
        "livemode": intent.livemode, "status": str(status), "amount": intent.amount,
        "amount_captured": 0, "amount_refunded": 0, "currency": intent.currency,
        "captured": False, "disputed": False,
        "payment_method": orjson.dumps(public_method(intent.payment_method) or {}).decode(),
        "outcome": "{}", "network": None, "failure_code": None, "created": int(time.time()),
    }  # fmt: skip
    for key, value in fields.items():
        row[key] = orjson.dumps(value).decode() if key in ("outcome", "network") else value
    return row


_COLUMNS = tuple(store.charges.c.keys())
_LOAD = f"SELECT {', '.join(_COLUMNS)} FROM pay_charges WHERE id = ?"


def load(conn: Connection, charge_id: str) -> dict[str, Any]:
    row = Sql(conn).one(_LOAD, (charge_id,))  # read with every card answer: the plain cursor
    if row is None:
        raise missing("charge", charge_id)
    out = dict(zip(_COLUMNS, row, strict=True))
    for key in ("payment_method", "outcome", "network"):
        out[key] = orjson.loads(out[key]) if out[key] else None
    out["livemode"] = bool(out["livemode"])
    out["captured"] = bool(out["captured"])
    out["disputed"] = bool(out["disputed"])
    return out


def render(row: dict[str, Any]) -> dict[str, Any]:
    """The charge as JSON (ROW as `load` returns it, or a new row with JSON text fields)."""

    def decoded(key: str) -> Any:
        value = row.get(key)
        return orjson.loads(value) if isinstance(value, str) else value

    return {
        "id": row["id"], "object": "charge", "amount": row["amount"],
        "amount_captured": row["amount_captured"], "amount_refunded": row["amount_refunded"],
        "captured": bool(row["captured"]), "created": row["created"],
        "currency": row["currency"].lower(), "disputed": bool(row["disputed"]),
        "failure_code": row["failure_code"], "livemode": bool(row["livemode"]),
        "outcome": decoded("outcome"), "payment_intent": row["intent_id"],
        "payment_method_details": decoded("payment_method"),
        "refunded": row["amount_refunded"] >= row["amount_captured"] > 0,
        "status": row["status"],
    }  # fmt: skip


def changed(change: Change, charge_id: str, values: dict[str, Any], event: str,
            **extra: Any) -> None:  # fmt: skip
    """Update charge CHARGE_ID with VALUES in CHANGE's transaction and emit EVENT with the
    whole charge as it becomes (the same object `GET` and every other charge event show, plus
    EXTRA), read in that transaction: the update itself is buffered until the group's end."""
    change.updates.append((store.charges, charge_id, values))
    shown: dict[str, Any] = {}
    change.events.append((event, shown))  # its place among the events; filled in below

    def fill(conn: Connection) -> None:
        row = load(conn, charge_id)
        row.update(values)
        shown.update(render(row), **extra)

    change.direct.append(fill)
