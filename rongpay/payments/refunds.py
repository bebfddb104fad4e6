"""Refunds: full, partial, several per payment, never more than was received.

A refund is a new ledger transfer back from the merchant's balance to where the money came
from (the customer's wallet, or the channel's clearing account for cards and bank transfers);
the fee is not returned. A card refund also travels to the issuer (ISO 8583, processing code
20): the refund is reserved first (the intent's `amount_refunded` grows, so a concurrent
refund cannot over-refund), then the issuer is asked, then it succeeds (ledger transfer) or
fails (the reservation is released).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from rongpay.ledger.types import Transfer
from rongpay.payments import accounts, charges, parse, store
from rongpay.payments.errors import invalid
from rongpay.payments.intents import Intent, involved_accounts, payer_account, touch
from rongpay.payments.ops import Change, Plan, no_money
from rongpay.payments.steps import OK, require
from rongpay.payments.types import IntentStatus, new_id

FIELDS = frozenset({"payment_intent", "amount", "reason", "metadata"})
REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def parse_request(raw: object) -> tuple[str, int | None, str | None, dict[str, str]]:
    body = parse.body(raw, FIELDS)
    intent_id = parse.text(body.get("payment_intent"), "payment_intent", required=True, limit=40)
    amount = None
    if body.get("amount") is not None:
        amount = parse.positive_amount(body["amount"])
    reason = None
    if body.get("reason") is not None:
        reason = parse.choice(body["reason"], "reason", REASONS, "requested_by_customer")
    return str(intent_id), amount, reason, parse.metadata(body.get("metadata"))


def render(row: dict[str, Any]) -> dict[str, Any]:
    meta = row["metadata"]
    return {
        "id": row["id"], "object": "refund", "amount": row["amount"],
        "currency": row["currency"].lower(), "payment_intent": row["intent_id"],
        "charge": row["charge_id"], "status": row["status"], "reason": row["reason"],
        "failure_reason": row["failure_reason"], "livemode": bool(row["livemode"]),
        "metadata": orjson.loads(meta) if isinstance(meta, str) else meta,
        "created": row["created"],
    }  # fmt: skip


def refund_amount(intent: Intent, asked: int | None) -> int:
    """What a refund of ASKED (None: all that is left) takes; refused past what is left."""
    left = intent.amount_received - intent.amount_refunded
    if left <= 0:
        raise invalid("charge_already_refunded", f"Payment {intent.id} has been fully refunded.",
                      "payment_intent")  # fmt: skip
    amount = left if asked is None else asked
    if amount > left:
        raise invalid("amount_too_large", f"Refund amount ({amount}) is greater than the "
                      f"unrefunded amount of the payment ({left}).", "amount")  # fmt: skip
    return amount


def reserve(intent: Intent, asked: int | None, reason: str | None, metadata: dict[str, str],
            *, pending: bool) -> Plan:  # fmt: skip
    """Book the refund (PENDING: only reserve it while the card issuer is asked)."""
    require(intent, (IntentStatus.succeeded,), "refund")
    amount = refund_amount(intent, asked)
    row = {
        "id": new_id("re"), "intent_id": intent.id, "charge_id": intent.latest_charge or "",
        "merchant_id": intent.merchant_id, "livemode": intent.livemode, "amount": amount,
        "currency": intent.currency, "status": "pending" if pending else "succeeded",
        "reason": reason, "failure_reason": None, "metadata": orjson.dumps(metadata).decode(),
        "created": int(time.time()),
    }  # fmt: skip
    after = touch(intent, amount_refunded=intent.amount_refunded + amount)
    change = Change(after, inserts=[(store.refunds, row)], extra={"refund": row})
    change.event("refund.created", render(row))
    if pending:
        return no_money(change)

    def settle(results: list[Any]) -> Change:
        assert all(r in OK for r in results), results
        refunded(change, after, amount)
        return change

    return Plan(settle, [_transfer(intent, str(row["id"]), amount)], involved_accounts(intent))


def _transfer(intent: Intent, refund_id: str, amount: int) -> Transfer:
    merchant = accounts.merchant(intent.livemode, intent.merchant_id, intent.currency).id
    return Transfer(refund_id, merchant, payer_account(intent).id, amount, intent.currency,
                    accounts.REFUND, 0, None, 0, intent.id)  # fmt: skip


def refunded(change: Change, intent: Intent, amount: int) -> None:
    """The charge's refunded total grows (INTENT as it is after the refund of AMOUNT), with
    `charge.refunded` carrying the whole charge and `refunded_now`."""
    if intent.latest_charge:
        charges.changed(change, intent.latest_charge, {"amount_refunded": intent.amount_refunded},
                        "charge.refunded", refunded_now=amount)  # fmt: skip


def finish(intent: Intent, refund: dict[str, Any], ok: bool, failure: str | None) -> Plan:
    """The card issuer answered a reserved refund: book it, or release the reservation."""
    amount = int(refund["amount"])
    if not ok:
        after = touch(intent, amount_refunded=intent.amount_refunded - amount)
        row = {**refund, "status": "failed", "failure_reason": failure or "unknown"}
        change = Change(after, updates=[(store.refunds, refund["id"],
                        {"status": "failed", "failure_reason": row["failure_reason"]})],
                        extra={"refund": row})  # fmt: skip
        change.event("refund.failed", render(row))
        return no_money(change)
    row = {**refund, "status": "succeeded"}
    change = Change(intent, updates=[(store.refunds, refund["id"], {"status": "succeeded"})],
                    extra={"refund": row})  # fmt: skip
    change.event("refund.updated", render(row))

    def settle(results: list[Any]) -> Change:
        assert all(r in OK for r in results), results
        refunded(change, intent, amount)
        return change

    return Plan(settle, [_transfer(intent, refund["id"], amount)], involved_accounts(intent))
