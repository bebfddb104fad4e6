"""Card payments: the two commits around the ISO 8583 authorisation, and the calls a card
charge needs afterwards (capture, reversal, refund). Functions take the gateway first.

    card:   [commit: processing + pending charge + vault record] -> ISO 8583 to the issuer
            -> [commit: ledger authorisation/capture + charge outcome + events]
Commit 1 also records what is about to be sent (its STAN, transmission time and the fields a
reversal repeats) and the idempotency key it reserved. A crash between the two commits leaves
an intent in `processing` with a pending charge: `recover_stuck` (upkeep.py) reverses the
recorded request at the issuer, then fails the attempt and answers its key (card_recovery.py):
never half-moved money.

The CVC a confirmation brought is held on the gateway (`gw.cvc`) only while its attempt is in
progress: a challenge resumes with it, at most CVC_TTL_S later.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rongpay.payments import card_recovery, charges, merchants, steps, store
from rongpay.payments.channels.card import CardOutcome, CardResult
from rongpay.payments.errors import Kind, PaymentError, invalid
from rongpay.payments.idempotency import Idem, Stored
from rongpay.payments.intents import Intent, authorize_transfers, involved_accounts, touch
from rongpay.payments.methods import MethodInput
from rongpay.payments.ops import Change, IntentOp, Plan, no_money
from rongpay.payments.types import Caller, CaptureMethod, ChargeStatus, IntentStatus
from rongpay.payments.writer import Tx
from rongpay.security.cards import CardDetails
from rongpay.security.store import insert_record, load_record
from rongpay.security.vault import VaultError
from rongpay.store.uow import unit_of_work
from rongpay.wire.iso8583 import Message

if TYPE_CHECKING:
    from rongpay.payments.gateway import Client, Gateway

CVC_TTL_S = 600  # a CVC is held in memory only until the authorisation it is for completes


async def confirm_card(
    gw: Gateway, caller: Caller, intent: Intent, method: MethodInput, *, idem: Idem | None,
    client: Client, new: bool, authenticated: bool,
) -> Any:  # fmt: skip
    merchant = merchants.get(gw.engine, caller.merchant_id)
    card = method.card
    assert card is not None
    _forget_stale_cvcs(gw)
    if card.cvc:
        gw.cvc[intent.id] = (card.cvc, time.monotonic())
    record = method.record
    pm = intent.payment_method or {}
    details = pm.get(method.type) or {}
    # chosen before commit 1, which records it: a crash after the send can still reverse it
    request = _card_request(gw, intent, card, merchant, authenticated)

    def begin(tx: Tx, current: Intent) -> Plan:
        current = intent if new else steps.reattach(current, intent)
        country = (pm.get("billing_details") or {}).get("country") or details.get("country")

        def go(i: Intent, risk: dict[str, Any]) -> Plan:
            row = charges.new_row(i, ChargeStatus.pending, outcome={"risk": risk})
            after = touch(i, status=IntentStatus.processing, latest_charge=row["id"],
                          attempts=i.attempts + 1, risk=risk,
                          last_payment_error=None)  # fmt: skip
            change = Change(after, inserts=[(store.charges, row)], extra={"go": True})
            if request is not None:
                sent = card_recovery.request_row(row["id"], after, request, idem)
                change.inserts.append((store.card_requests, sent))
            change.event("payment_intent.processing")
            return no_money(change)

        name = (pm.get("billing_details") or {}).get("name")
        plan = gw.decide(current, merchant, details.get("fingerprint", ""), country,
                            client, authenticated, go, name=name)  # fmt: skip
        if record is None:
            return plan
        # the card is stored whatever happens now: a challenge or a hold resumes from it
        return plan.then(lambda change: change.direct.append(
            lambda conn: insert_record(conn, record)))  # fmt: skip

    first = IntentOp(merchant.id, caller.livemode, intent.id, begin,
                     new=intent if new else None, idem=idem, idem_phase="reserve")  # fmt: skip
    started = await gw.writer.run_async(first)
    if not isinstance(started, Change) or not started.extra.get("go"):
        if isinstance(started, Change) and started.intent.status == "requires_payment_method":
            gw.cvc.pop(intent.id, None)  # declined before the network: nothing resumes
        await gw.aftermath(started, merchant)
        if idem is not None and isinstance(started, Change):
            declined = any(t == "payment_intent.payment_failed" for t, _ in started.events)
            return await _complete_idem(gw, caller, started.intent, idem, declined)
        return started
    processing = started.intent
    result = await _authorize(gw, processing, card, request)
    if result.outcome != CardOutcome.CHALLENGE_REQUIRED:
        gw.cvc.pop(intent.id, None)

    review = gw.review_case(started.extra.get("payer") or {})

    def finish(tx: Tx, cur: Intent) -> Plan:
        if request is not None:  # unless a recovery took the attempt over meanwhile
            card_recovery.check_open(tx.conn, processing.latest_charge)
        return _card_outcome(gw, cur, processing, result).then(review)

    end = IntentOp(merchant.id, caller.livemode, intent.id, finish, idem=idem,
                   idem_phase="complete")  # fmt: skip
    try:
        final = await gw.writer.run_async(end)
    except BaseException:
        # the issuer moved money we could not book: take it back there before failing
        if result.outcome == CardOutcome.APPROVED and gw.card is not None:
            await gw.card.reverse(
                card, original=result, amount_minor=processing.amount,
                currency=processing.currency, merchant_id=merchant.id,
                reference=f"{intent.id}:{processing.attempts}:unbooked",
            )  # fmt: skip
        raise
    change = final.result if isinstance(final, Stored) else final
    if isinstance(change, Change):
        change.extra.setdefault("payer", started.extra.get("payer"))
    return await gw.aftermath(final, merchant)


async def _complete_idem(
    gw: Gateway, caller: Caller, intent: Intent, idem: Idem, declined: bool
) -> Any:
    """A reserved key whose attempt ended without reaching the network (risk said no):
    store the answer the attempt gave (a decline stays a 402)."""
    op = IntentOp(caller.merchant_id, caller.livemode, intent.id,
                  lambda tx, cur: no_money(Change(cur, extra={"declined": declined})),
                  idem=idem, idem_phase="complete")  # fmt: skip
    return await gw.writer.run_async(op)


def _card_request(gw: Gateway, intent: Intent, card: CardDetails, merchant: Any,
                  authenticated: bool) -> Message | None:  # fmt: skip
    """The 0100/0200 for this attempt, its identity chosen (None: no card network)."""
    if gw.card is None:
        return None
    pm = intent.payment_method or {}
    entry = (pm.get(str(pm.get("type"))) or {}).get("entry_mode", "ecommerce")
    return gw.card.prepare_authorization(
        card, amount_minor=intent.amount, currency=intent.currency, merchant_id=merchant.id,
        mcc=merchant.mcc, entry_mode=entry, authenticated=authenticated,
        capture=intent.capture_method == CaptureMethod.automatic,
    )  # fmt: skip


async def _authorize(gw: Gateway, intent: Intent, card: CardDetails,
                     request: Message | None) -> CardResult:  # fmt: skip
    if gw.card is None or request is None:
        return CardResult(CardOutcome.UNAVAILABLE, None, "issuer_not_available", None, None,
                          "", 0.0, False)  # fmt: skip
    return await gw.card.send(request, card, f"{intent.id}:{intent.attempts}")


def _card_outcome(gw: Gateway, current: Intent, processing: Intent, result: CardResult) -> Plan:
    if (
        current.status != IntentStatus.processing
        or current.latest_charge != processing.latest_charge
    ):
        raise PaymentError(Kind.conflict, "payment_intent_unexpected_state",
                           "The payment intent changed during the authorisation.")  # fmt: skip
    network = _network(result)
    charge_id = processing.latest_charge
    if result.outcome == CardOutcome.APPROVED:
        return Plan(
            lambda results: steps.succeed(current, results, charge_id=charge_id,
                                          network=network, risk=current.risk,
                                          failure=steps.payment_error("processing_error",
                                                                      None)),
            authorize_transfers(current, current.attempts),
            involved_accounts(current),
        )  # fmt: skip
    if result.outcome == CardOutcome.CHALLENGE_REQUIRED:
        change = steps.challenged(current, risk=current.risk, reason="issuer_authentication",
                                  base_url=gw.base_url)  # fmt: skip
        change.updates.append((store.charges, str(charge_id), {"status": "failed",
                               "failure_code": "authentication_required"}))  # fmt: skip
        return no_money(change)
    if result.outcome == CardOutcome.DECLINED:
        error = steps.payment_error("card_declined", result.decline_code or "generic_decline")
    elif result.outcome == CardOutcome.UNAVAILABLE:  # nothing was sent
        error = steps.payment_error("card_declined", "issuer_not_available",
                                    "The card network cannot be reached; nothing was "
                                    "charged. Try again shortly.")  # fmt: skip
    else:  # timeout: the connector reversed the request
        error = steps.payment_error("processing_error", "processing_error",
                                    "The card network did not answer in time; nothing was "
                                    "charged. Try again.")  # fmt: skip
    return no_money(steps.failed_attempt(current, error, risk=current.risk, network=network,
                                         charge_id=charge_id))  # fmt: skip


async def card_call(gw: Gateway, kind: str, intent: Intent, amount: int) -> CardResult:
    """Capture (0200 completion), reversal (0400) or refund of the intent's card charge."""
    if gw.card is None:
        raise PaymentError(Kind.unavailable, "issuer_not_available",
                           "The card network is not connected; retry shortly.")  # fmt: skip
    with unit_of_work(gw.engine, write=False) as conn:
        charge = charges.load(conn, str(intent.latest_charge))
    original = CardResult(
        **{**charge["network"], "outcome": CardOutcome(charge["network"]["outcome"])}
    )
    card = open_card(gw, intent)
    call = getattr(gw.card, kind)
    result: CardResult = await call(
        card, original=original, amount_minor=amount, currency=intent.currency,
        merchant_id=intent.merchant_id, reference=f"{intent.id}:{kind}",
    )  # fmt: skip
    if result.outcome != CardOutcome.APPROVED:
        raise PaymentError(Kind.unavailable if result.outcome in (CardOutcome.TIMEOUT,
                           CardOutcome.UNAVAILABLE) else Kind.declined, f"{kind}_failed",
                           f"The card network refused the {kind}: "
                           f"{result.decline_code or result.outcome}.")  # fmt: skip
    return result


def _forget_stale_cvcs(gw: Gateway) -> None:
    """CVCs are held only for an attempt in progress (at most CVC_TTL_S)."""
    now = time.monotonic()
    for intent_id, (_, since) in list(gw.cvc.items()):
        if now - since > CVC_TTL_S:
            gw.cvc.pop(intent_id, None)


def open_card(gw: Gateway, intent: Intent) -> CardDetails:
    pm = intent.payment_method or {}
    token = pm[str(pm["type"])]["token"]
    with unit_of_work(gw.engine, write=False) as conn:
        record = load_record(conn, token)
    gone = invalid("payment_method_invalid", "The stored card cannot be used any more; "
                   "send the card again.", "payment_method_data")  # fmt: skip
    if record is None:
        raise gone
    try:
        card = gw.vault.open(record)
    except VaultError:  # the key that sealed it was rotated away, or the record was altered
        raise gone from None
    held = gw.cvc.get(intent.id)
    if held is not None and time.monotonic() - held[1] < CVC_TTL_S:
        card = replace(card, cvc=held[0])
    return card


def _network(result: CardResult) -> dict[str, Any]:
    return {
        "outcome": str(result.outcome), "response_code": result.response_code,
        "decline_code": result.decline_code, "auth_code": result.auth_code, "rrn": result.rrn,
        "stan": result.stan, "latency_ms": round(result.latency_ms, 2),
        "reversal_sent": result.reversal_sent,
        "reversal_acknowledged": result.reversal_acknowledged,
        "mti": result.mti, "transmitted_at": result.transmitted_at,
        "acquirer_id": result.acquirer_id, "processing_code": result.processing_code,
    }  # fmt: skip
