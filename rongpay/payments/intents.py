"""Payment intents: the record, its rendering, and the transitions of its state machine.

    requires_payment_method -> requires_confirmation -> (requires_action) -> (processing)
        -> requires_capture -> succeeded | canceled

A failed attempt returns the intent to requires_payment_method with `last_payment_error`.
Money moves only as ledger transfers, decided here and judged by the ledger in the same
transaction as the intent's change (see writer.py):

- authorise (manual capture): a PENDING transfer payer -> merchant, timing out when the
  authorisation lapses; capture = post (a partial post releases the rest); cancel = void.
- automatic capture: a posted transfer payer -> merchant.
- the fee (merchant -> fees) is booked, linked to the capture, so both or neither happen.
The payer side is the customer's wallet for wallet/QR payments, and the channel's clearing
account (what the card network or bank owes us) for cards and bank transfers.
"""

from __future__ import annotations

import operator
import time
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from rongpay.ledger.types import T_LINKED, T_PENDING, T_POST, T_VOID, Account, Transfer
from rongpay.payments import accounts, store
from rongpay.payments.errors import missing
from rongpay.payments.types import CaptureMethod, IntentStatus

AUTH_VALIDITY_S = 7 * 24 * 3600  # an uncaptured authorisation lapses after 7 days


@dataclass(frozen=True, slots=True)
class Intent:
    id: str
    merchant_id: str
    livemode: bool
    status: IntentStatus
    amount: int
    currency: str
    capture_method: CaptureMethod
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0
    fee: int | None = None
    fee_quote: dict[str, int] | None = None
    payment_method: dict[str, Any] | None = None
    customer_id: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    last_payment_error: dict[str, Any] | None = None
    next_action: dict[str, Any] | None = None
    latest_charge: str | None = None
    cancellation_reason: str | None = None
    risk: dict[str, Any] | None = None
    challenge: dict[str, Any] | None = None
    attempts: int = 0
    created: int = 0
    updated: int = 0
    expires: int | None = None
    return_url: str | None = None  # where the customer goes back to after the bank

    @property
    def method_type(self) -> str | None:
        return self.payment_method["type"] if self.payment_method else None


_JSON = (
    "fee_quote",
    "payment_method",
    "metadata",
    "last_payment_error",
    "next_action",
    "risk",
    "challenge",
)


def from_row(row: Any) -> Intent:
    m = row._mapping
    values = {k: m[k] for k in Intent.__dataclass_fields__}
    for k in _JSON:
        values[k] = orjson.loads(values[k]) if values[k] else None
    values["status"] = IntentStatus(values["status"])
    values["capture_method"] = CaptureMethod(values["capture_method"])
    values["livemode"] = bool(values["livemode"])
    return Intent(**values)


def to_row(intent: Intent) -> dict[str, Any]:
    row = {k: getattr(intent, k) for k in Intent.__dataclass_fields__}
    for k in _JSON:
        row[k] = orjson.dumps(row[k]).decode() if row[k] is not None else None
    row["metadata"] = row["metadata"] or "{}"
    row["status"] = str(intent.status)
    row["capture_method"] = str(intent.capture_method)
    return row


def changes(before: Intent, after: Intent) -> dict[str, Any]:
    """The columns that differ, for a buffered UPDATE (only those are encoded)."""
    delta = {k: v for k, v in zip(_FIELDS, _values(after), strict=True)
             if k != "id" and v != getattr(before, k)}  # fmt: skip
    for k in _JSON:
        if k in delta:
            delta[k] = orjson.dumps(delta[k]).decode() if delta[k] is not None else None
    if "metadata" in delta:
        delta["metadata"] = delta["metadata"] or "{}"
    for k in ("status", "capture_method"):
        if k in delta:
            delta[k] = str(delta[k])
    return delta


_LOAD = sa.select(store.intents).where(store.intents.c.id == sa.bindparam("id"))


def load(conn: sa.Connection, intent_id: str, merchant_id: str, livemode: bool) -> Intent:
    """The intent, if it belongs to this merchant and mode; else resource_missing."""
    row = conn.execute(_LOAD, {"id": intent_id}).first()
    if row is None or row.merchant_id != merchant_id or bool(row.livemode) != livemode:
        raise missing("payment_intent", intent_id)
    return from_row(row)


_FIELDS = tuple(Intent.__dataclass_fields__)
_values = operator.attrgetter(*_FIELDS)
_set = object.__setattr__


def touch(intent: Intent, **fields: Any) -> Intent:
    """INTENT with FIELDS changed and `updated` now (a copy: records are immutable).

    Built slot by slot: dataclasses.replace re-runs the frozen __init__ and copy.copy goes
    through __reduce_ex__, each several times slower, and this runs a few times a payment."""
    changed = object.__new__(Intent)
    for name, value in zip(_FIELDS, _values(intent), strict=True):
        _set(changed, name, value)
    fields["updated"] = int(time.time())
    for name, value in fields.items():
        assert name in Intent.__dataclass_fields__, name
        _set(changed, name, value)
    return changed


# -- ledger movements ---------------------------------------------------------------------


def payer_account(intent: Intent) -> Account:
    pm = intent.payment_method or {}
    if pm.get("type") in ("wallet", "qr") and pm.get("wallet_customer"):
        return accounts.wallet(intent.livemode, pm["wallet_customer"], intent.currency)
    channel = accounts.CHANNEL_CLEARING.get(str(pm.get("type"))) or "card"
    return accounts.clearing(intent.livemode, channel, intent.currency)


def involved_accounts(intent: Intent) -> list[Account]:
    cur = intent.currency
    return [
        payer_account(intent),
        accounts.merchant(intent.livemode, intent.merchant_id, cur),
        accounts.fees(intent.livemode, cur),
    ]


def authorize_transfers(intent: Intent, attempt: int) -> list[Transfer]:
    """What confirming moves: an authorisation hold, or the capture and its fee at once."""
    payer, merchant, fees = (a.id for a in involved_accounts(intent))
    base = f"{intent.id}:{attempt}"
    if intent.capture_method == CaptureMethod.manual:
        timeout = AUTH_VALIDITY_S
        return [Transfer(f"{base}:auth", payer, merchant, intent.amount, intent.currency,
                         accounts.AUTHORIZE, T_PENDING, None, timeout, intent.id)]  # fmt: skip
    linked = T_LINKED if intent.fee else 0
    capture = Transfer(f"{base}:capture", payer, merchant, intent.amount, intent.currency,
                       accounts.CAPTURE, linked, None, 0, intent.id)  # fmt: skip
    if not intent.fee:
        return [capture]
    fee = Transfer(f"{base}:fee", merchant, fees, intent.fee, intent.currency, accounts.FEE,
                   0, None, 0, intent.id)  # fmt: skip
    return [capture, fee]


def capture_transfers(intent: Intent, amount: int, fee: int) -> list[Transfer]:
    """Post the authorisation (AMOUNT of it; the rest is released) and book the fee, linked."""
    auth_id = f"{intent.id}:{intent.attempts}:auth"
    _, merchant, fees = (a.id for a in involved_accounts(intent))
    post = Transfer(f"{intent.id}:post", None, None, amount, None, None,
                    T_POST | (T_LINKED if fee else 0), auth_id, 0, intent.id)  # fmt: skip
    if not fee:
        return [post]
    return [post, Transfer(f"{intent.id}:fee", merchant, fees, fee, intent.currency,
                           accounts.FEE, 0, None, 0, intent.id)]  # fmt: skip


def void_transfer(intent: Intent) -> Transfer:
    auth_id = f"{intent.id}:{intent.attempts}:auth"
    return Transfer(f"{intent.id}:void", None, None, 0, None, None, T_VOID, auth_id,
                    0, intent.id)  # fmt: skip
