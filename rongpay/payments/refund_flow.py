"""A refund request routed by how the payment was made: a bank transfer's is asynchronous
(bank_refunds.py); a card's is reserved, sent to the issuer, then finished by what it said;
any other is booked at once (refunds.py holds the steps). Gateway.refund runs it one at a
time per intent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from rongpay.payments import bank_refunds, card_flow, refunds
from rongpay.payments.errors import PaymentError
from rongpay.payments.idempotency import Idem
from rongpay.payments.ops import Change, IntentOp
from rongpay.payments.types import Caller

if TYPE_CHECKING:
    from rongpay.payments.gateway import Gateway

log = logging.getLogger("rongpay.payments")


async def refund(gw: Gateway, caller: Caller, raw: object, *, idem: Idem | None) -> Any:
    intent_id, asked, reason, metadata = refunds.parse_request(raw)
    try:
        intent = gw.retrieve(caller, intent_id)
    except PaymentError as exc:
        exc.param = "payment_intent"  # the refund's parameter that names it
        raise
    if intent.method_type == "bank_transfer":  # asynchronous: bank_refunds.py
        return await bank_refunds.create(gw.writer, gw.bank, caller, intent_id,
                                         (asked, reason, metadata), idem=idem)  # fmt: skip
    card = (intent.method_type or "").startswith("card")
    if not card:
        op = IntentOp(caller.merchant_id, caller.livemode, intent_id,
                      lambda tx, cur: refunds.reserve(cur, asked, reason, metadata,
                                                      pending=False), idem=idem)  # fmt: skip
        return await gw.writer.run_async(op)
    first = IntentOp(caller.merchant_id, caller.livemode, intent_id,
                     lambda tx, cur: refunds.reserve(cur, asked, reason, metadata,
                                                     pending=True),
                     idem=idem, idem_phase="reserve")  # fmt: skip
    reserved = await gw.writer.run_async(first)
    if not isinstance(reserved, Change):
        return reserved  # a replayed response
    row = reserved.extra["refund"]
    failure = None
    try:
        await card_flow.card_call(gw, "refund", reserved.intent, int(row["amount"]))
    except PaymentError as exc:
        failure = exc.code
    except Exception:  # nothing was refunded that we know of: release the reservation
        log.exception("card refund %s failed unexpectedly", row["id"])
        failure = "processing_error"
    end = IntentOp(caller.merchant_id, caller.livemode, intent_id,
                   lambda tx, cur: refunds.finish(cur, row, failure is None, failure),
                   idem=idem, idem_phase="complete")  # fmt: skip
    return await gw.writer.run_async(end)
