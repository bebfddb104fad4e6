"""The steps of an intent's life (see ops.py): each takes the intent as it is and plans what
happens to it and to the money. Pure decisions over the intent, the merchant and what the
channel answered; the reads they need go through the op's transaction."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import replace
from typing import Any

import orjson
import sqlalchemy as sa

from rongpay.ledger.types import CreateTransferResult
from rongpay.payments import accounts, charges, customers, fees, store, wallets
from rongpay.payments.errors import Kind, PaymentError, invalid, missing, unexpected_state
from rongpay.payments.intents import (
    AUTH_VALIDITY_S,
    Intent,
    authorize_transfers,
    capture_transfers,
    involved_accounts,
    touch,
    void_transfer,
)
from rongpay.payments.ops import Change, Plan, Results, no_money
from rongpay.payments.types import CaptureMethod, ChargeStatus, IntentStatus, Merchant, new_id
from rongpay.payments.writer import Tx

CHALLENGE_TTL_S = 600
CHALLENGE_TRIES = 3
OK = (CreateTransferResult.ok, CreateTransferResult.exists)

DECLINE_MESSAGES = {
    "fraudulent": "The payment was declined because it looks fraudulent.",
    "balance_insufficient": "The wallet balance is too low for this payment.",
    "authentication_failed": "The customer could not be authenticated.",
    "processing_error": "An error occurred while processing the payment; try again.",
}


def fee_for(merchant: Merchant, intent: Intent, method: str, payer_country: str | None) -> int:
    return _fee(merchant, intent.amount, intent.currency, method, payer_country)


def fee_quote(merchant: Merchant, amount: int, currency: str) -> dict[str, int]:
    """The fee of each payment method, shown before confirmation (no payer known yet)."""
    return {m: _fee(merchant, amount, currency, m, None) for m in fees.METHODS}


def _fee(merchant: Merchant, amount: int, currency: str, method: str,
         payer_country: str | None) -> int:  # fmt: skip
    cross_border = payer_country is not None and payer_country != merchant.country
    return fees.fee(
        merchant.fee_schedule, method, amount, currency=currency,
        default_currency=merchant.default_currency, cross_border=cross_border,
    )  # fmt: skip


def payment_error(
    code: str, decline_code: str | None, message: str | None = None
) -> dict[str, Any]:
    text = message or DECLINE_MESSAGES.get(decline_code or code) or "The payment was declined."
    return {"code": code, "decline_code": decline_code, "message": text, "type": "card_error"
            if code == "card_declined" else "payment_error"}  # fmt: skip


def require(intent: Intent, allowed: tuple[IntentStatus, ...], action: str) -> None:
    if intent.status not in allowed:
        raise unexpected_state("payment_intent", intent.id, str(intent.status), action)


def reattach(current: Intent, attached: Intent) -> Intent:
    """The intent as loaded in the transaction, taking the method attached at confirmation
    (a stored intent confirmed with a method given now): it must still be confirmable."""
    allowed = (IntentStatus.requires_payment_method, IntentStatus.requires_confirmation,
               IntentStatus.requires_action)  # fmt: skip
    require(current, allowed, "confirm")
    return replace(current, payment_method=attached.payment_method, fee=attached.fee,
                   status=IntentStatus.requires_confirmation)  # fmt: skip


# -- attempts that end at once --------------------------------------------------------------


def failed_attempt(
    intent: Intent, error: dict[str, Any], *, risk: dict[str, Any] | None, network: Any = None,
    charge_id: str | None = None,
) -> Change:  # fmt: skip
    """The attempt failed: a failed charge, the intent back to requires_payment_method."""
    after = touch(
        intent, status=IntentStatus.requires_payment_method, last_payment_error=error,
        next_action=None, challenge=None, risk=risk or intent.risk,
        attempts=intent.attempts + (0 if charge_id else 1),
    )  # fmt: skip
    change = Change(after)
    kind = "failed"
    if error["code"] == "card_declined":
        kind = "issuer_declined"
    if error.get("decline_code") == "fraudulent":
        kind = "blocked"
    outcome = {"type": kind, "risk": risk}
    if charge_id is None:
        row = charges.new_row(after, ChargeStatus.failed, failure_code=error.get("decline_code")
                              or error["code"], outcome=outcome, network=network)  # fmt: skip
        change.inserts.append((store.charges, row))
        after = touch(after, latest_charge=row["id"])
        change.intent = after
        change.event("charge.failed", charges.render(row))
    else:
        values = {"status": "failed", "failure_code": error.get("decline_code") or error["code"],
                  "outcome": orjson.dumps(outcome).decode(),
                  "network": orjson.dumps(network).decode() if network else None}  # fmt: skip
        charges.changed(change, charge_id, values, "charge.failed")
    change.event("payment_intent.payment_failed")
    return change


def challenged(
    intent: Intent, *, risk: dict[str, Any] | None, reason: str, base_url: str
) -> Change:
    """Ask the customer for a one-time code (risk challenge or the issuer's 3-D Secure)."""
    code = f"{secrets.randbelow(10**6):06d}"
    expires = int(time.time()) + CHALLENGE_TTL_S
    action: dict[str, Any] = {
        "type": "verify_with_code",
        "verify_with_code": {
            "reason": reason, "channel": "sms", "expires_at": expires,
            "hosted_url": f"{base_url}/checkout/challenge/{intent.id}",
        },
    }  # fmt: skip
    if not intent.livemode:
        action["verify_with_code"]["test_code"] = code  # sandbox: no SMS is really sent
    after = touch(
        intent, status=IntentStatus.requires_action, next_action=action, risk=risk or intent.risk,
        challenge={"hash": _hash_code(intent.id, code), "expires": expires, "tries": 0,
                   "reason": reason},
    )  # fmt: skip
    change = Change(after)
    change.event("payment_intent.requires_action")
    return change


def held(intent: Intent, screening: dict[str, Any], who: dict[str, Any]) -> Change:
    """Screening matched the payer: nothing moves until an analyst decides."""
    after = touch(intent, status=IntentStatus.processing, next_action=None,
                  risk={**(intent.risk or {}), "screening": screening})  # fmt: skip
    change = Change(after, extra={"held": screening, "payer": who})
    change.event("payment_intent.processing")
    return change


def release_hold(intent: Intent, approve: bool) -> Plan:
    risk = intent.risk or {}
    screening = risk.get("screening") or {}
    if intent.status != IntentStatus.processing or screening.get("decision") != "hold":
        raise unexpected_state("payment_intent", intent.id, str(intent.status), "release")
    decided = {**risk, "screening": {**screening, "decision": "approved" if approve else
                                     "rejected"}}  # fmt: skip
    if approve:
        return no_money(Change(touch(intent, status=IntentStatus.requires_confirmation,
                                     risk=decided)))  # fmt: skip
    after = touch(intent, status=IntentStatus.canceled, cancellation_reason="compliance",
                  risk=decided, amount_capturable=0)  # fmt: skip
    change = Change(after)
    change.event("payment_intent.canceled")
    return no_money(change)


def _hash_code(intent_id: str, code: str) -> str:
    return hashlib.sha256(f"{intent_id}:{code}".encode()).hexdigest()


def verify_code(intent: Intent, code: object) -> Plan:
    """Check the one-time code: right -> the caller re-runs the attempt authenticated; wrong
    -> one try used (the third wrong one fails the attempt)."""
    require(intent, (IntentStatus.requires_action,), "verify a code for")
    ch = intent.challenge
    if not ch:
        raise unexpected_state("payment_intent", intent.id, str(intent.status), "verify a code for")
    if int(time.time()) > ch["expires"]:
        error = payment_error("authentication_failed", "authentication_failed",
                              "The one-time code expired; confirm the payment again.")  # fmt: skip
        return no_money(failed_attempt(intent, error, risk=None))
    if isinstance(code, str) and hmac.compare_digest(ch["hash"], _hash_code(intent.id, code)):
        after = touch(intent, challenge={**ch, "passed": True})
        return no_money(Change(after, extra={"verified": True}))
    tries = ch["tries"] + 1
    if tries >= CHALLENGE_TRIES:
        error = payment_error("authentication_failed", "authentication_failed")
        return no_money(failed_attempt(intent, error, risk=None))
    after = touch(intent, challenge={**ch, "tries": tries})
    return no_money(Change(after, extra={"verified": False, "tries_left": CHALLENGE_TRIES - tries}))


# -- money moves ----------------------------------------------------------------------------


def succeed(intent: Intent, results: Results, *, charge_id: str | None, network: Any,
            risk: dict[str, Any] | None, failure: dict[str, Any]) -> Change:  # fmt: skip
    """Settle an authorised attempt: the ledger said yes (succeeded / requires_capture) or no
    (FAILURE, e.g. the wallet balance was too low)."""
    if not all(r in OK for r in results):
        return failed_attempt(intent, failure, risk=risk, network=network, charge_id=charge_id)
    manual = intent.capture_method == CaptureMethod.manual
    now = int(time.time())
    new_charge = new_id("ch") if charge_id is None else None  # a charge made by this attempt
    after = touch(
        intent, status=IntentStatus.requires_capture if manual else IntentStatus.succeeded,
        amount_capturable=intent.amount if manual else 0,
        amount_received=0 if manual else intent.amount, last_payment_error=None,
        next_action=None, challenge=None, risk=risk or intent.risk,
        expires=now + AUTH_VALIDITY_S if manual else None,
        attempts=intent.attempts + (0 if charge_id else 1),
        latest_charge=new_charge or intent.latest_charge,
    )  # fmt: skip
    change = Change(after)
    fields: dict[str, Any] = {"captured": not manual,
              "amount_captured": 0 if manual else intent.amount,
              "outcome": {"type": "authorized", "risk": risk}, "network": network}  # fmt: skip
    if charge_id is None:
        row = charges.new_row(after, ChargeStatus.succeeded, id=new_charge, **fields)
        change.inserts.append((store.charges, row))
        change.event("charge.succeeded", charges.render(row))
    else:
        fields["status"] = "succeeded"
        fields["network_ref"] = (network or {}).get("rrn") or (network or {}).get("order")
        fields["outcome"] = orjson.dumps(fields["outcome"]).decode()
        fields["network"] = orjson.dumps(network).decode() if network else None
        charges.changed(change, charge_id, fields, "charge.succeeded")
    change.event(
        "payment_intent.amount_capturable_updated" if manual else "payment_intent.succeeded"
    )
    return change


def charge_plan(intent: Intent, attempt: int, **settle: Any) -> Plan:
    """The authorisation (or capture) transfers of this attempt and how to settle them."""
    return Plan(
        lambda results: succeed(intent, results, **settle),
        authorize_transfers(intent, attempt),
        involved_accounts(intent),
    )


def capture(intent: Intent, amount: int, fee: int,
            spend: list[tuple[str, int, bool]] | None = None) -> Plan:  # fmt: skip
    """Post AMOUNT of the authorisation (the rest is released) with its fee. A wallet
    holder's KYC totals grow by what was captured (the hold itself did not count)."""
    require(intent, (IntentStatus.requires_capture,), "capture")

    def settle(results: Results) -> Change:
        if results and results[0] == CreateTransferResult.pending_transfer_expired:
            raise PaymentError(Kind.state, "charge_expired_for_capture",
                               "The authorisation expired before it was captured.")  # fmt: skip
        assert all(r in OK for r in results), results
        after = touch(intent, status=IntentStatus.succeeded, amount_capturable=0,
                      amount_received=amount, fee=fee, expires=None)  # fmt: skip
        change = Change(after)
        if intent.latest_charge:
            charges.changed(
                change,
                intent.latest_charge,
                {"captured": True, "amount_captured": amount},
                "charge.captured",
            )
        change.event("payment_intent.succeeded")
        wallets.spend_rows(change, spend or [])  # KYC running totals (wallets.spend_add)
        return change

    return Plan(settle, capture_transfers(intent, amount, fee), involved_accounts(intent))


def cancel(intent: Intent, reason: str) -> Plan:
    allowed: tuple[IntentStatus, ...] = (
        IntentStatus.requires_payment_method, IntentStatus.requires_confirmation,
        IntentStatus.requires_action, IntentStatus.requires_capture,
    )  # fmt: skip
    if intent.method_type == "bank_transfer":  # money the bank sends later is returned at once
        allowed = (*allowed, IntentStatus.processing)
    require(intent, allowed, "cancel")
    after = touch(intent, status=IntentStatus.canceled, cancellation_reason=reason,
                  amount_capturable=0, next_action=None, challenge=None, expires=None)  # fmt: skip
    change = Change(after)
    change.event("payment_intent.canceled")
    if intent.status != IntentStatus.requires_capture:
        return no_money(change)

    def settle(results: Results) -> Change:
        # an authorisation the ledger already expired is released all the same
        assert results[0] in (*OK, CreateTransferResult.pending_transfer_expired), results
        return change

    return Plan(settle, [void_transfer(intent)], involved_accounts(intent))


def payer_ready(tx: Tx, intent: Intent, merchant_id: str,
                **more: Any) -> tuple[Intent, Any, str | None]:  # fmt: skip
    """For a wallet payment: who pays, checked. A one-time payment code (kept only as its
    hash) names the customer; a customer id needs the customer's mandate for this merchant.
    Returns the intent with the paying customer and country set (and the fields MORE gives
    for the payer, e.g. the fee: fn(payer) -> value), the customer's row, and the code's hash
    to mark used if the payment succeeds (`code_spent`)."""
    pm = dict(intent.payment_method or {})
    digest = pm.get("_payment_code_hash")
    customer = pm.get("wallet_customer")
    if digest is not None:
        customer = _check_code(tx, intent, str(digest))
        pm["wallet_customer"] = customer
    row, mandated = customers.payer(tx.sql, str(customer), merchant_id, intent.livemode)
    if digest is None and not mandated:
        raise invalid(
            "mandate_missing",
            f"Customer {customer!r} has not authorised this merchant to charge their wallet; "
            "ask for a payment code instead.",
            "payment_method_data[wallet][customer]",
        )
    if row is None:
        raise missing("customer", str(customer), "payment_method_data[wallet]")
    pm["payer_country"] = row.country
    extra = {name: of(row) for name, of in more.items()}
    after = touch(intent, payment_method=pm, customer_id=intent.customer_id or customer, **extra)
    return after, row, digest


def code_spent(change: Change, digest: str | None) -> None:
    """Mark a payment code used, in the transaction of the payment that used it."""
    if digest is None:
        return
    used_by = change.intent.id

    def mark(conn: Any) -> None:
        c = store.payment_codes.c
        conn.execute(store.payment_codes.update().where(c.code_hash == digest)
                     .values(used_by=used_by))  # fmt: skip

    change.direct.append(mark)


def _check_code(tx: Tx, intent: Intent, digest: str) -> str:
    c = store.payment_codes.c
    row = tx.conn.execute(sa.select(store.payment_codes).where(c.code_hash == digest)).first()
    param = "payment_method_data[wallet][payment_code]"
    if row is None or bool(row.livemode) != intent.livemode:
        raise invalid("payment_code_invalid", "This payment code is not valid.", param)
    if row.used_by == intent.id:
        return str(row.customer_id)  # bound to this payment (held or challenged): resume it
    if row.used_by is not None or row.expires < int(time.time()):
        raise invalid("payment_code_expired", "This payment code was used or has expired.", param)
    return str(row.customer_id)


def code_outcome(change: Change, digest: str | None) -> None:
    """A payment code is bound to the payment it started as soon as that attempt did not
    fail (succeeded, authorised, held or challenged: nobody else may use it meanwhile); a
    failed attempt forgets the code, so trying again needs a new one."""
    if digest is None:
        return
    if change.intent.status != IntentStatus.requires_payment_method:
        code_spent(change, digest)
        return
    pm = {k: v for k, v in (change.intent.payment_method or {}).items()
          if k not in ("_payment_code_hash", "wallet_customer")}  # fmt: skip
    change.intent = replace(change.intent, payment_method=pm)


def wallet_accounts(intent: Intent) -> list[Any]:
    customer = (intent.payment_method or {}).get("wallet_customer")
    return [accounts.wallet(intent.livemode, str(customer), intent.currency)]
