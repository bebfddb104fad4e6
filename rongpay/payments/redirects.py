"""Payments the customer completes elsewhere: bank transfers (the customer approves at their
bank; the bank tells us asynchronously, with a signed callback) and merchant-presented QR
codes (the customer's wallet app scans the code and pays from the wallet).

Bank transfer:  confirm -> order at the bank -> requires_action (redirect_to_url)
                -> customer returns (processing) -> signed callback -> succeeded | failed
QR:             confirm -> requires_action (display_qr_code: an EMVCo payload naming the
                intent) -> the wallet app posts the payload -> succeeded (wallet -> merchant)
Callbacks may arrive twice, before or after the customer's return: each is applied once.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from rongpay.ledger.types import T_LINKED, Transfer
from rongpay.payments import accounts, charges, refunds, store
from rongpay.payments.errors import Kind, PaymentError, invalid
from rongpay.payments.intents import Intent, authorize_transfers, involved_accounts, touch
from rongpay.payments.ops import Change, Plan, no_money
from rongpay.payments.steps import OK, charge_plan, failed_attempt, payment_error, require, succeed
from rongpay.payments.types import ChargeStatus, IntentStatus, Merchant, new_id
from rongpay.qr import emv
from rongpay.qr import merchant as qr_merchant
from rongpay.qr.errors import QrError

QR_GUI = "com.rongpay"  # our network's globally unique id in the QR account template
QR_TTL_S = 900
WAITING = (IntentStatus.requires_action, IntentStatus.processing)


# -- bank transfers -------------------------------------------------------------------------


def bank_redirect(intent: Intent, order_id: str, redirect_url: str, return_url: str,
                  attempt: int) -> Plan:  # fmt: skip
    """The order exists at the bank: send the customer there, keep a pending charge."""
    row = charges.new_row(intent, ChargeStatus.pending, network={"order": order_id},
                          network_ref=order_id)  # fmt: skip
    action = {"type": "redirect_to_url",
              "redirect_to_url": {"url": redirect_url, "return_url": return_url}}  # fmt: skip
    after = touch(intent, status=IntentStatus.requires_action, next_action=action,
                  latest_charge=row["id"], attempts=attempt, last_payment_error=None)  # fmt: skip
    change = Change(after, inserts=[(store.charges, row)])
    change.event("payment_intent.requires_action")
    return no_money(change)


def bank_returned(intent: Intent) -> Plan:
    """The customer came back from the bank: we wait for the bank's word."""
    if intent.status != IntentStatus.requires_action or (intent.method_type != "bank_transfer"):
        return no_money(Change(intent))
    change = Change(touch(intent, status=IntentStatus.processing, next_action=None))
    change.event("payment_intent.processing")
    return no_money(change)


def bank_outcome(intent: Intent, charge_id: str, status: str, failure_code: str | None,
                 amount: int, currency: str, order_id: str, reference: str) -> Plan:  # fmt: skip
    """The bank's callback: book the payment, or fail the attempt. A repeat changes nothing;
    money that arrives for a payment canceled meanwhile is booked and returned at once."""
    mismatch = invalid("callback_mismatch", "The bank's callback does not match the "
                       "payment's reference, amount or currency.")  # fmt: skip
    if (
        not reference.startswith(f"{intent.id}:")
        or amount != intent.amount
        or (currency.upper() != intent.currency)
    ):
        raise mismatch
    if (
        intent.latest_charge == charge_id
        and intent.status == IntentStatus.canceled
        and (status == "succeeded" and not intent.amount_refunded)
    ):
        return _returned_late(intent, charge_id, order_id)
    if intent.latest_charge != charge_id or intent.status not in WAITING:
        return no_money(Change(intent, extra={"duplicate": True}))
    if reference != f"{intent.id}:{intent.attempts}":
        raise mismatch
    network = {"order": order_id, "status": status}
    if status != "succeeded":
        error = payment_error("bank_declined", failure_code or "declined_by_bank",
                              f"The bank declined the transfer ({failure_code}).")  # fmt: skip
        return no_money(failed_attempt(intent, error, risk=intent.risk, network=network,
                                       charge_id=charge_id))  # fmt: skip
    failure = payment_error("processing_error", None)
    return Plan(
        lambda results: succeed(intent, results, charge_id=charge_id, network=network,
                                risk=intent.risk, failure=failure),
        authorize_transfers(intent, intent.attempts),
        involved_accounts(intent),
    )  # fmt: skip


def _returned_late(intent: Intent, charge_id: str, order_id: str) -> Plan:
    """The customer's bank paid after the payment was canceled: receive the money and send it
    straight back (a refund), so the books show both and the merchant keeps nothing."""
    clearing = accounts.clearing(intent.livemode, "bank", intent.currency).id
    merchant = accounts.merchant(intent.livemode, intent.merchant_id, intent.currency).id
    refund_id = new_id("re")
    transfers = [
        Transfer(f"{intent.id}:late", clearing, merchant, intent.amount, intent.currency,
                 accounts.CAPTURE, T_LINKED, None, 0, intent.id),
        Transfer(refund_id, merchant, clearing, intent.amount, intent.currency, accounts.REFUND,
                 0, None, 0, intent.id),
    ]  # fmt: skip
    row = {
        "id": refund_id, "intent_id": intent.id, "charge_id": charge_id,
        "merchant_id": intent.merchant_id, "livemode": intent.livemode, "amount": intent.amount,
        "currency": intent.currency, "status": "succeeded", "reason": "payment_canceled",
        "failure_reason": None, "metadata": "{}", "created": int(time.time()),
    }  # fmt: skip
    after = touch(intent, amount_refunded=intent.amount)
    change = Change(after, inserts=[(store.refunds, row)], extra={"late": True},
                    updates=[(store.charges, charge_id, {
                        "status": "succeeded", "captured": True, "amount_captured": intent.amount,
                        "amount_refunded": intent.amount, "network_ref": order_id})])  # fmt: skip
    change.event("refund.created", refunds.render(row))
    opened = [accounts.clearing(intent.livemode, "bank", intent.currency),
              accounts.merchant(intent.livemode, intent.merchant_id, intent.currency)]  # fmt: skip

    def settle(results: list[Any]) -> Change:
        assert all(r in OK for r in results), results  # neither account has a limit
        return change

    return Plan(settle, transfers, opened)


# -- merchant-presented QR ------------------------------------------------------------------


def qr_payload(intent: Intent, merchant: Merchant) -> str:
    """A dynamic EMVCo payload: our account template names the merchant, the bill number
    names the intent (without its `pi_`, to fit the 25-character field)."""
    code = qr_merchant.MerchantQr(
        merchant_name=merchant.name[:25], merchant_city=merchant.city[:15],
        country=merchant.country, mcc=merchant.mcc, currency=intent.currency,
        accounts=(qr_merchant.Account(gui=QR_GUI, fields=(("01", merchant.id),)),),
        amount_minor=intent.amount,
        additional=qr_merchant.AdditionalData(bill_number=intent.id.removeprefix("pi_")),
    )  # fmt: skip
    return qr_merchant.build(code)


def qr_display(intent: Intent, merchant: Merchant, base_url: str) -> Plan:
    try:
        payload = qr_payload(intent, merchant)
    except QrError as exc:  # e.g. a merchant name with characters a QR code cannot carry
        raise invalid("qr_unavailable", f"This merchant cannot show a QR code: {exc}") from None
    quoted = quote(payload, safe="")
    action = {"type": "display_qr_code", "display_qr_code": {
        "data": payload, "expires_at": int(time.time()) + QR_TTL_S,
        "image_url_svg": f"{base_url}/checkout/qr/{intent.id}.svg",
        "image_url_png": f"{base_url}/checkout/qr/{intent.id}.png",
        "payload_url_encoded": quoted,
    }}  # fmt: skip
    after = touch(intent, status=IntentStatus.requires_action, next_action=action,
                  last_payment_error=None)  # fmt: skip
    change = Change(after)
    change.event("payment_intent.requires_action")
    return no_money(change)


def parse_scanned(payload: object) -> tuple[str, str | None, int | None, str]:
    """(merchant id, intent id or None for a static code, amount or None, currency) from a
    scanned payload, or PaymentError naming why it cannot be paid here."""
    if not isinstance(payload, str):
        raise invalid("parameter_invalid", "`payload` must be the scanned text.", "payload")
    try:
        decoded = emv.decode(payload)
    except QrError as exc:
        raise invalid(f"qr_{exc.code}", f"This QR code cannot be read: {exc}", "payload") from None
    merchant_id = None
    for account in decoded.accounts:
        subs = {c.tag: c.value for c in account.children or ()}
        if subs.get("00") == QR_GUI:
            merchant_id = subs.get("01")
    if not merchant_id:
        raise invalid("qr_unsupported", "This QR code belongs to another payment network.",
                      "payload")  # fmt: skip
    additional = decoded.get("62")
    bill = None
    if additional is not None:
        bill = {c.tag: c.value for c in additional.children or ()}.get("01")
    currency = decoded.currency
    return (merchant_id, f"pi_{bill}" if bill else None, emv.amount_minor(decoded),
            currency.code if currency else "")  # fmt: skip


def qr_paid(intent: Intent, customer: str, amount: int | None) -> Intent:
    """The intent as the scanning customer's wallet pays it."""
    require(intent, (IntentStatus.requires_action,), "pay by QR")
    if intent.method_type != "qr":
        raise PaymentError(Kind.state, "payment_intent_unexpected_state",
                           "This payment intent is not waiting for a QR payment.")  # fmt: skip
    if amount is not None and amount != intent.amount:
        raise invalid("qr_amount_mismatch", "The code's amount differs from the payment's.")
    shown = (intent.next_action or {}).get("display_qr_code") or {}
    if int(shown.get("expires_at", 0)) < int(time.time()):
        raise invalid("qr_expired", "This QR code has expired; ask the merchant for a new one.",
                      "payload")  # fmt: skip
    pm = {**(intent.payment_method or {}), "wallet_customer": customer}
    return touch(intent, payment_method=pm, customer_id=intent.customer_id or customer,
                 next_action=None)  # fmt: skip


def qr_charge(intent: Intent, risk: dict[str, Any] | None) -> Plan:
    failure = payment_error("balance_insufficient", None)
    return charge_plan(intent, intent.attempts + 1, charge_id=None, network=None, risk=risk,
                       failure=failure)  # fmt: skip
