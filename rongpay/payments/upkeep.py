"""The periodic sweep's work on payment intents: authorisations nobody captured in time are
canceled, card attempts a crashed process left in `processing` are reversed and failed.
The API's upkeep task runs these (api/runtime_payments.py); bank transfers whose callback
did not come are bank_flow.reconcile_bank.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import sqlalchemy as sa

from rongpay.payments import card_recovery, steps, store
from rongpay.payments.errors import PaymentError
from rongpay.payments.intents import Intent
from rongpay.payments.ops import Change, IntentOp, Plan, no_money
from rongpay.payments.types import IntentStatus
from rongpay.payments.writer import Tx
from rongpay.store.uow import unit_of_work

if TYPE_CHECKING:
    from rongpay.payments.gateway import Gateway

STUCK_AFTER_S = 120  # a card attempt in `processing` longer than this was cut short by a crash


async def recover_stuck(gw: Gateway, now: int | None = None, limit: int = 200, *,
                        respond: card_recovery.Respond | None = None) -> int:  # fmt: skip
    """Card attempts left in `processing` by a crashed process: each recorded request is
    reversed at the issuer, then the attempt fails and its reserved idempotency key gets that
    answer (RESPOND renders it; without it the key is released). An attempt whose reversal
    cannot reach the issuer waits for the next sweep. Returns how many were failed."""
    when = int(time.time()) if now is None else now
    before = when - STUCK_AFTER_S
    done = await card_recovery.recover(gw, before=before, respond=respond, limit=limit)
    return done + await _fail_unrecorded(gw, before, limit)


async def _fail_unrecorded(gw: Gateway, before: int, limit: int) -> int:
    """Attempts that recorded no request (none was sent: no card network; or from before
    requests were recorded) fail as they are: no ledger transfer was made for them."""
    t, c, r = store.intents.c, store.charges.c, store.card_requests.c
    with unit_of_work(gw.engine, write=False) as conn:
        rows = conn.execute(
            sa.select(t.id, t.merchant_id, t.livemode)
            .join(store.charges, c.id == t.latest_charge)
            .outerjoin(store.card_requests, r.id == t.latest_charge)
            .where(t.status == "processing", t.updated < before, c.status == "pending",
                   c.network_ref.is_(None), r.id.is_(None))
            .limit(limit)
        ).all()  # fmt: skip
    done = 0
    for row in rows:

        def step(tx: Tx, cur: Intent) -> Plan:
            card = (cur.method_type or "").startswith("card")
            held = ((cur.risk or {}).get("screening") or {}).get("decision") == "hold"
            if cur.status != IntentStatus.processing or not card or held:
                return no_money(Change(cur))  # a screening hold waits for its analyst
            text = "The payment was interrupted; nothing was charged."
            error = steps.payment_error("processing_error", "processing_error", text)
            return no_money(steps.failed_attempt(cur, error, risk=cur.risk,
                                                 charge_id=cur.latest_charge))  # fmt: skip

        op = IntentOp(row.merchant_id, bool(row.livemode), row.id, step)
        change = await gw.writer.run_async(op)
        done += change.intent.status == IntentStatus.requires_payment_method
    return done


def expire_due(gw: Gateway, now: int | None = None, limit: int = 500) -> int:
    """Cancel authorisations nobody captured in time (the ledger hold lapses with them)."""
    t = store.intents.c
    when = int(time.time()) if now is None else now
    with unit_of_work(gw.engine, write=False) as conn:
        rows = conn.execute(
            sa.select(t.id, t.merchant_id, t.livemode)
            .where(t.status == "requires_capture", t.expires < when).limit(limit)
        ).all()  # fmt: skip
    done = 0
    for row in rows:
        op = IntentOp(row.merchant_id, bool(row.livemode), row.id,
                      lambda tx, cur: steps.cancel(cur, "automatic"))  # fmt: skip
        try:
            gw.writer.run(op)
            done += 1
        except PaymentError:
            continue  # captured or canceled meanwhile
    return done
