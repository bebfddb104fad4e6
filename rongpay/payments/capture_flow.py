"""Capture and cancel: the two ways an authorised payment ends. Capture takes (part of) the
held amount, completing a card authorisation at the issuer first; cancel reverses a card hold
there first, then releases the ledger hold. Functions take the gateway first; Gateway.capture
and Gateway.cancel run them one at a time per intent.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rongpay.payments import card_flow, customers, merchants, parse, steps, wallets
from rongpay.payments.errors import PaymentError, invalid
from rongpay.payments.idempotency import Idem
from rongpay.payments.intents import Intent, load
from rongpay.payments.ops import Change, IntentOp, Plan, no_money
from rongpay.payments.types import Caller, IntentStatus
from rongpay.payments.writer import Tx
from rongpay.store.uow import unit_of_work

if TYPE_CHECKING:
    from rongpay.payments.gateway import Gateway


async def capture(
    gw: Gateway, caller: Caller, intent_id: str, raw: object, *, idem: Idem | None
) -> Any:
    if (stored := gw.replay(idem)) is not None:
        return stored
    body = parse.body({} if raw is None else raw, frozenset({"amount_to_capture"}))
    merchant = merchants.get(gw.engine, caller.merchant_id)
    with unit_of_work(gw.engine, write=False) as conn:
        intent = load(conn, intent_id, caller.merchant_id, caller.livemode)
    steps.require(intent, (IntentStatus.requires_capture,), "capture")
    amount = intent.amount_capturable
    if body.get("amount_to_capture") is not None:
        amount = parse.positive_amount(body["amount_to_capture"], "amount_to_capture")
        if amount > intent.amount_capturable:
            raise invalid("amount_too_large", f"`amount_to_capture` is more than the "
                          f"{intent.amount_capturable} that can be captured.",
                          "amount_to_capture")  # fmt: skip
    country = _payer_country(intent)
    fee = steps.fee_for(merchant, replace(intent, amount=amount), str(intent.method_type), country)
    phase = "once"
    if (intent.method_type or "").startswith("card"):
        if idem is not None:  # reserve the key first: a racing retry must not capture twice
            hold = IntentOp(merchant.id, caller.livemode, intent.id, _unchanged_if_capturable,
                            idem=idem, idem_phase="reserve")  # fmt: skip
            reserved = await gw.writer.run_async(hold)
            if not isinstance(reserved, Change):
                return reserved
            phase = "complete"
        try:
            await card_flow.card_call(gw, "capture", intent, amount)
        except PaymentError as refused:
            if phase == "complete":  # release the key: a retry with it may try again
                await _release_key(gw, caller, intent.id, idem, refused)
            raise
    op = IntentOp(merchant.id, caller.livemode, intent.id,
                  lambda tx, cur: steps.capture(cur, amount, fee, _spend(tx, cur, amount)),
                  idem=idem, idem_phase=phase)  # fmt: skip
    return await gw.writer.run_async(op)


async def _release_key(gw: Gateway, caller: Caller, intent_id: str, idem: Idem | None,
                       refused: PaymentError) -> None:  # fmt: skip
    """Forget a reserved idempotency key whose request failed before changing anything."""

    def refuse(tx: Tx, cur: Intent) -> Plan:
        raise refused  # the writer releases a 'complete' key when its op is refused

    op = IntentOp(caller.merchant_id, caller.livemode, intent_id, refuse, idem=idem,
                  idem_phase="complete")  # fmt: skip
    with contextlib.suppress(PaymentError):
        await gw.writer.run_async(op)


def _spend(tx: Tx, intent: Intent, amount: int) -> list[tuple[str, int, bool]]:
    """A wallet capture's addition to the holder's KYC running totals (the hold did not
    count; the limit was checked when it was made)."""
    customer = (intent.payment_method or {}).get("wallet_customer")
    if intent.method_type != "wallet" or not customer:
        return []
    payer = customers.load(tx.conn, str(customer), intent.livemode, "payment_intent")
    return wallets.spend_add(tx, payer, amount, intent.currency)


async def cancel(gw: Gateway, caller: Caller, intent_id: str, raw: object, *, idem: Idem | None,
                 reason: str | None = None) -> Any:  # fmt: skip
    if (stored := gw.replay(idem)) is not None:
        return stored
    body = parse.body({} if raw is None else raw, frozenset({"cancellation_reason"}))
    why = parse.choice(body.get("cancellation_reason"), "cancellation_reason",
                       ("duplicate", "fraudulent", "requested_by_customer", "abandoned"),
                       reason or "requested_by_customer")  # fmt: skip
    with unit_of_work(gw.engine, write=False) as conn:
        intent = load(conn, intent_id, caller.merchant_id, caller.livemode)
    if intent.status == IntentStatus.requires_capture and (intent.method_type or "").startswith(
        "card"
    ):
        await card_flow.card_call(gw, "reverse", intent, intent.amount_capturable)
    op = IntentOp(caller.merchant_id, caller.livemode, intent.id,
                  lambda tx, cur: steps.cancel(cur, why), idem=idem)  # fmt: skip
    return await gw.writer.run_async(op)


def _unchanged_if_capturable(tx: Tx, intent: Intent) -> Plan:
    steps.require(intent, (IntentStatus.requires_capture,), "capture")
    return no_money(Change(intent))


def _payer_country(intent: Intent) -> str | None:
    """The country the fee's cross-border surcharge was judged on at confirmation: the
    billing country, else the card's issuing country, else the wallet holder's."""
    pm = intent.payment_method or {}
    details = pm.get(str(pm.get("type")))
    card_country = details.get("country") if isinstance(details, dict) else None
    billing = (pm.get("billing_details") or {}).get("country")
    return billing or card_country or pm.get("payer_country")
