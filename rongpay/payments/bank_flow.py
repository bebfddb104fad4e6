"""Bank transfers: the customer is sent to the bank to pay an order, and the bank's signed
callback (or, when it does not come, the upkeep asking the bank) settles the attempt once
however often it is told. Functions take the gateway first. Refunds of bank transfers are
bank_refunds.py.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from rongpay.payments import bank_refunds, redirects, steps, store
from rongpay.payments.channels.bank import BankError, BankRefundCallback
from rongpay.payments.errors import Kind, PaymentError, invalid, missing
from rongpay.payments.idempotency import Idem
from rongpay.payments.intents import Intent
from rongpay.payments.ops import Change, IntentOp, Plan
from rongpay.payments.types import Caller, CaptureMethod
from rongpay.payments.writer import Tx
from rongpay.store.uow import unit_of_work

if TYPE_CHECKING:
    from rongpay.payments.gateway import Gateway

BANK_DESCRIPTION_MAX = 140  # what a bank statement line carries (the sandbox bank takes 255)


async def confirm_bank(gw: Gateway, caller: Caller, intent: Intent, *, idem: Idem | None,
                        new: bool) -> Any:  # fmt: skip
    if intent.capture_method == CaptureMethod.manual:
        raise invalid("capture_method_unsupported", "Bank transfers are captured when the "
                      "bank confirms them; use capture_method automatic.",
                      "capture_method")  # fmt: skip
    if gw.bank is None:
        raise PaymentError(Kind.unavailable, "bank_unavailable",
                           "No bank is connected (set RONGPAY_BANK_URL).")  # fmt: skip
    attempt = intent.attempts + 1
    return_url = _return_url(gw, intent)
    try:
        order = await gw.bank.create_order(
            reference=f"{intent.id}:{attempt}", amount_minor=intent.amount,
            currency=intent.currency,
            description=(intent.description or intent.id)[:BANK_DESCRIPTION_MAX],
            return_url=return_url, callback_url=f"{gw.base_url}/v1/bank/callback",
        )  # fmt: skip
    except BankError as exc:
        kind = Kind.invalid if exc.code == "bank_rejected" else Kind.unavailable
        raise PaymentError(kind, str(exc.code), exc.message) from None

    def step(tx: Tx, current: Intent) -> Plan:
        current = intent if new else steps.reattach(current, intent)
        return redirects.bank_redirect(current, order.id, order.redirect_url, return_url,
                                       attempt)  # fmt: skip

    op = IntentOp(caller.merchant_id, caller.livemode, intent.id, step,
                  new=intent if new else None, idem=idem)  # fmt: skip
    return await gw.writer.run_async(op)


def _return_url(gw: Gateway, intent: Intent) -> str:
    return f"{gw.base_url}/checkout/return/{intent.id}"


async def bank_callback(gw: Gateway, body: bytes, signature: str | None) -> dict[str, Any]:
    """The bank's signed word on an order; applied once however often it comes."""
    if gw.bank is None:
        raise PaymentError(Kind.unavailable, "bank_unavailable", "No bank is connected.")
    try:
        cb = gw.bank.parse_callback(body, signature)
    except BankError as exc:
        raise invalid(str(exc.code), exc.message) from None
    if isinstance(cb, BankRefundCallback):
        return await bank_refunds.on_callback(gw.engine, gw.writer, cb)
    c = store.charges.c
    with unit_of_work(gw.engine, write=False) as conn:
        row = conn.execute(sa.select(c.id, c.intent_id, c.merchant_id, c.livemode)
                           .where(c.network_ref == cb.order)).first()  # fmt: skip
    if row is None:
        raise missing("bank order", cb.order, "order")
    op = IntentOp(row.merchant_id, bool(row.livemode), row.intent_id,
                  lambda tx, cur: redirects.bank_outcome(cur, row.id, cb.status,
                                                         cb.failure_code, cb.amount_minor,
                                                         cb.currency, cb.order,
                                                         cb.reference))  # fmt: skip
    change = await gw.writer.run_async(op)
    status = str(change.intent.status)
    return {"received": True, "duplicate": bool(change.extra.get("duplicate")),
            "payment_intent": change.intent.id, "status": status}  # fmt: skip


async def returned(gw: Gateway, intent_id: str) -> Intent:
    """The customer is back from the bank (or the hosted page): the intent as it is now."""
    with unit_of_work(gw.engine, write=False) as conn:
        row = conn.execute(sa.select(store.intents.c.merchant_id, store.intents.c.livemode)
                           .where(store.intents.c.id == intent_id)).first()  # fmt: skip
    if row is None:
        raise missing("payment_intent", intent_id)
    op = IntentOp(row.merchant_id, bool(row.livemode), intent_id,
                  lambda tx, cur: redirects.bank_returned(cur))  # fmt: skip
    change: Change = await gw.writer.run_async(op)
    return change.intent


async def reconcile_bank(gw: Gateway, older_than_s: int = 600, limit: int = 100) -> int:
    """Ask the bank about transfers and refunds whose callback has not come (it retries
    for a while, then gives up): apply what the bank says, as the callback would have.
    Refund instructions that got no answer are sent again (bank_refunds.reconcile).
    Returns how many changed."""
    if gw.bank is None:
        return 0
    refunded = await bank_refunds.reconcile(gw.engine, gw.writer, gw.bank,
                                            older_than_s, limit)  # fmt: skip
    t, c = store.intents.c, store.charges.c
    before = int(time.time()) - older_than_s
    with unit_of_work(gw.engine, write=False) as conn:
        rows = conn.execute(
            sa.select(t.id, t.merchant_id, t.livemode, c.id.label("charge"),
                      c.network_ref)
            .join(store.charges, c.id == t.latest_charge)
            .where(t.status.in_(("requires_action", "processing")), t.updated <= before,
                   c.status == "pending", c.network_ref.is_not(None))
            .limit(limit)
        ).all()  # fmt: skip
    changed = 0
    for row in rows:
        try:
            order = await gw.bank.get_order(str(row.network_ref))
        except BankError:
            continue  # the bank is down: next time
        if order.status not in ("succeeded", "failed"):
            continue

        def step(tx: Tx, cur: Intent, row: Any = row, order: Any = order) -> Plan:
            return redirects.bank_outcome(
                cur, row.charge, order.status, getattr(order, "failure_code", None),
                cur.amount, cur.currency, order.id, f"{cur.id}:{cur.attempts}",
            )  # fmt: skip

        op = IntentOp(row.merchant_id, bool(row.livemode), row.id, step)
        with contextlib.suppress(PaymentError):
            change = await gw.writer.run_async(op)
            changed += 0 if change.extra.get("duplicate") else 1
    return changed + refunded
