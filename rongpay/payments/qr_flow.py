"""QR payments: the merchant-presented code shown at confirmation, and a customer's wallet
app paying a scanned code (screening and risk decide as for a wallet payment, but a scan
cannot be challenged). Functions take the gateway first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rongpay.payments import customers, merchants, parse, redirects, steps, wallets
from rongpay.payments.idempotency import Idem
from rongpay.payments.intents import Intent, touch
from rongpay.payments.ops import Change, IntentOp, Plan, no_money
from rongpay.payments.types import Caller, IntentStatus
from rongpay.payments.writer import Tx

if TYPE_CHECKING:
    from rongpay.payments.gateway import Client, Gateway


async def confirm_qr(gw: Gateway, caller: Caller, intent: Intent, merchant: Any, *,
                     idem: Idem | None, new: bool) -> Any:  # fmt: skip
    """Confirming a QR payment shows the code; the money moves when it is scanned and paid."""

    def show(tx: Tx, cur: Intent) -> Plan:
        current = intent if new else steps.reattach(cur, intent)
        return redirects.qr_display(current, merchant, gw.base_url)

    op = IntentOp(merchant.id, caller.livemode, intent.id, show,
                  new=intent if new else None, idem=idem)  # fmt: skip
    return await gw.writer.run_async(op)


async def pay_qr(gw: Gateway, livemode: bool, raw: object, client: Client) -> Any:
    """A customer's wallet app paid a scanned merchant-presented code (operator call)."""
    body = parse.body(raw, frozenset({"customer", "payload", "amount"}))
    customer = str(parse.text(body.get("customer"), "customer", required=True, limit=40))
    merchant_id, intent_id, code_amount, currency = redirects.parse_scanned(body.get("payload"))
    merchant = merchants.get(gw.engine, merchant_id)
    if intent_id is None:  # a static code: the customer typed the amount
        amount = code_amount or body.get("amount")
        caller = Caller(merchant.id, livemode)
        new = {"amount": amount, "currency": currency.lower(), "description": "QR payment",
               "payment_method_data": {"type": "qr"}, "confirm": True}  # fmt: skip
        created = await gw.create(caller, new, idem=None, client=client)
        intent_id = created.intent.id

    def step(tx: Tx, current: Intent) -> Plan:
        cur = redirects.qr_paid(current, customer, code_amount)
        payer = customers.load(tx.conn, customer, livemode, "customer")
        fee = steps.fee_for(merchant, cur, "qr", payer.country)  # cross-border surcharge too
        pm = {**(cur.payment_method or {}), "payer_country": payer.country}
        cur = touch(cur, fee=fee, payment_method=pm)
        spend = wallets.spend_check(tx, payer, cur.amount, cur.currency)
        who = {"payer": customer, "country": payer.country}
        hold = gw.compliance.screen(payer.name, payer.country, merchant.country)
        if hold is not None:
            return no_money(gw.held(cur, hold, who))
        risk = gw.risk.assess(cur, merchant, customer, payer.country, client.device_id,
                                client.ip)  # fmt: skip
        if risk["decision"] in ("block", "challenge"):  # a scan cannot be challenged: decline
            error = steps.payment_error("payment_declined", "fraudulent")
            return no_money(steps.failed_attempt(cur, error, risk=risk))

        def count(change: Change) -> None:
            change.extra["payer"] = who
            if change.intent.status != IntentStatus.requires_payment_method:
                wallets.spend_rows(change, spend)

        return redirects.qr_charge(cur, risk).then(count).then(gw.review_case(who))

    op = IntentOp(merchant.id, livemode, intent_id, step, extra_keys=(f"cus:{customer}",))
    async with gw.serial(intent_id):
        return await gw.aftermath(await gw.writer.run_async(op), merchant)
