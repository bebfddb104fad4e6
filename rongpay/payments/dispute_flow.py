"""Card disputes as they happen: the issuer's chargeback advice opens one (holding the funds),
the merchant adds evidence, submits or accepts, the operator records the network's decision.
Functions take the gateway first; disputes.py holds the steps.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from rongpay.payments import charges, disputes, merchants, store
from rongpay.payments.channels.card import Chargeback
from rongpay.payments.errors import missing
from rongpay.payments.intents import Intent
from rongpay.payments.ops import Change, IntentOp, Plan, Step, no_money
from rongpay.payments.types import Caller, DisputeStatus
from rongpay.payments.writer import Tx
from rongpay.store.uow import unit_of_work

if TYPE_CHECKING:
    from rongpay.payments.gateway import Gateway

log = logging.getLogger("rongpay.payments")


async def on_chargeback(gw: Gateway, notice: Chargeback) -> None:
    """The issuer disputes a card payment: hold the funds, open the dispute (idempotent:
    a repeated advice for the same charge changes nothing)."""
    c = store.charges.c
    with unit_of_work(gw.engine, write=False) as conn:
        row = conn.execute(sa.select(c.id, c.intent_id, c.merchant_id, c.livemode)
                           .where(c.network_ref == notice.rrn)).first()  # fmt: skip
    if row is None:
        log.warning("chargeback for an unknown transaction (rrn %s): ignored", notice.rrn)
        return
    merchant = merchants.get(gw.engine, row.merchant_id)

    def step(tx: Tx, intent: Intent) -> Plan:
        d = store.disputes.c
        exists = tx.conn.execute(sa.select(d.id).where(d.charge_id == row.id)).first()
        if exists is not None:
            return no_money(Change(intent))
        charge = charges.load(tx.conn, row.id)
        return disputes.open_dispute(intent, charge, merchant, notice.amount_minor,
                                     notice.reason)  # fmt: skip

    await gw.writer.run_async(IntentOp(row.merchant_id, bool(row.livemode), row.intent_id, step))


def _dispute(gw: Gateway, caller: Caller, dispute_id: str) -> dict[str, Any]:
    with unit_of_work(gw.engine, write=False) as conn:
        found = conn.execute(sa.select(store.disputes)
                             .where(store.disputes.c.id == dispute_id)).first()  # fmt: skip
    if (
        found is None
        or (not caller.is_admin and found.merchant_id != caller.merchant_id)
        or (bool(found.livemode) != caller.livemode)
    ):
        raise missing("dispute", dispute_id)
    out = dict(found._mapping)
    out["evidence"] = orjson.loads(out["evidence"])
    return out


def get_dispute(gw: Gateway, caller: Caller, dispute_id: str) -> dict[str, Any]:
    return disputes.render(_dispute(gw, caller, dispute_id))


async def update_dispute(gw: Gateway, caller: Caller, dispute_id: str, raw: object) -> Any:
    evidence, submit = disputes.parse_update(raw)
    found = _dispute(gw, caller, dispute_id)
    return await _dispute_op(gw, found, lambda tx, cur: disputes.update(
        cur, _dispute(gw, caller, dispute_id), evidence, submit))  # fmt: skip


async def close_dispute(gw: Gateway, caller: Caller, dispute_id: str, outcome: str) -> Any:
    """The merchant accepts (lost), or the operator records the network's decision."""
    found = _dispute(gw, caller, dispute_id)
    result = DisputeStatus(outcome)
    return await _dispute_op(gw, found, lambda tx, cur: disputes.close(
        cur, _dispute(gw, caller, dispute_id), result))  # fmt: skip


async def _dispute_op(gw: Gateway, found: dict[str, Any], step: Step) -> Any:
    op = IntentOp(found["merchant_id"], bool(found["livemode"]), found["intent_id"], step)
    return await gw.writer.run_async(op)
