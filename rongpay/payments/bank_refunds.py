"""Refunds of bank transfers: an instruction to the bank, an asynchronous outcome.

A card refund is answered by the issuer at once; a bank refund is not. The gateway instructs
the bank to send (part of) the paid order back to the payer, naming the refund with its own
id as the reference (the bank never pays one reference twice), and the bank pays it out later
and says so in a signed callback, as it does for orders.

    [commit 1: refund `pending`, reserved on the intent; instruction `sending`; no money]
      -> bank: POST /orders/{order}/refunds (reference = refund id)
    [commit 2, by what the bank said:
       took it (pending)            -> booked: merchant -> bank clearing; `sent`
       no answer (timeout, 5xx)     -> booked all the same (the bank may be paying it);
                                       `unconfirmed`: the upkeep sends it again, same reference
       never reached it (refused)   -> commit 1 undone, 503 bank_unavailable, nothing booked
       refused it (4xx)             -> refund `failed`, reservation released, nothing booked]
      -> callback (or the upkeep asking): succeeded -> refund `succeeded`
                                          failed    -> refund `failed`; the booking is reversed
                                                       (bank clearing -> merchant)

Every step is `advance`: idempotent, so a callback that overtakes commit 2, a replayed
callback, or the upkeep asking about a refund whose callback did come, changes nothing twice.
The booking is the card refund's transfer (merchant balance -> the channel's clearing
account, code pay_refund, id = refund id); the reversal a new transfer (posted rows are
never changed), code pay_refund_reversal. The fee is not returned, as for cards.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rongpay.ledger.types import Transfer
from rongpay.payments import accounts, refunds, store
from rongpay.payments.channels.bank import (
    BankChannel,
    BankError,
    BankErrorCode,
    BankRefund,
    BankRefundCallback,
)
from rongpay.payments.errors import Kind, PaymentError, invalid, missing
from rongpay.payments.idempotency import Idem
from rongpay.payments.intents import Intent, involved_accounts, payer_account, touch
from rongpay.payments.ops import Change, IntentOp, Plan, no_money
from rongpay.payments.steps import OK, require
from rongpay.payments.types import Caller, IntentStatus, new_id
from rongpay.payments.writer import PaymentWriter, Tx
from rongpay.store.uow import unit_of_work

log = logging.getLogger("rongpay.payments")

MAX_RECONCILE = 100  # instructions looked at per upkeep sweep


class State(StrEnum):
    """Where a refund's instruction to the bank stands (pay_bank_refunds.state)."""

    sending = "sending"
    unconfirmed = "unconfirmed"
    sent = "sent"
    succeeded = "succeeded"
    failed = "failed"


_RANK = {State.sending: 0, State.unconfirmed: 1, State.sent: 2}
WAITING = (State.sending, State.unconfirmed, State.sent)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the bank said about a refund. `status`: pending, succeeded or failed (the bank's
    word), unconfirmed (no answer: it may have the instruction), refused (it has not)."""

    status: str
    failure: str | None = None
    bank_refund_id: str | None = None
    amount_minor: int | None = None  # a callback's, checked against the refund
    currency: str | None = None
    resent: bool = False


def from_bank(refund: BankRefund, *, resent: bool = False) -> Outcome:
    return Outcome(refund.status, refund.failure_code, refund.id, refund.amount_minor,
                   refund.currency, resent)  # fmt: skip


# -- steps (run by the payment writer, in one transaction each) -----------------------------


def reserve(tx: Tx, intent: Intent, asked: int | None, reason: str | None,
            metadata: dict[str, str]) -> Plan:  # fmt: skip
    """Commit 1: the refund exists (`pending`) and holds its amount; no money moves yet."""
    require(intent, (IntentStatus.succeeded,), "refund")
    c = store.charges.c
    order = tx.conn.execute(sa.select(c.network_ref)
                            .where(c.id == intent.latest_charge)).scalar()  # fmt: skip
    assert order, f"succeeded bank transfer {intent.id} without a bank order"
    amount = refunds.refund_amount(intent, asked)
    now = int(time.time())
    row = {
        "id": new_id("re"), "intent_id": intent.id, "charge_id": intent.latest_charge or "",
        "merchant_id": intent.merchant_id, "livemode": intent.livemode, "amount": amount,
        "currency": intent.currency, "status": "pending", "reason": reason,
        "failure_reason": None, "metadata": orjson.dumps(metadata).decode(), "created": now,
    }  # fmt: skip
    bank = {
        "id": row["id"], "intent_id": intent.id, "merchant_id": intent.merchant_id,
        "livemode": intent.livemode, "order_id": str(order), "bank_refund_id": None,
        "state": str(State.sending), "booked": False, "tries": 1, "created": now, "updated": now,
    }  # fmt: skip
    after = touch(intent, amount_refunded=intent.amount_refunded + amount)
    change = Change(after, inserts=[(store.refunds, row), (store.bank_refunds, bank)],
                    extra={"refund": row, "bank": bank})  # fmt: skip
    return no_money(change)


def _rows(conn: Connection, refund_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    r = conn.execute(sa.select(store.refunds).where(store.refunds.c.id == refund_id)).first()
    b = conn.execute(
        sa.select(store.bank_refunds).where(store.bank_refunds.c.id == refund_id)
    ).first()
    if r is None or b is None:
        return None
    return dict(r._mapping), dict(b._mapping)


def advance(tx: Tx, intent: Intent, refund_id: str, outcome: Outcome) -> Plan:
    """Apply what the bank said to refund REFUND_ID of INTENT: book it if the bank may be
    paying it, settle it once the bank has. A refund already settled changes nothing."""
    found = _rows(tx.conn, refund_id)
    if found is None:
        raise missing("refund", refund_id, "reference")
    row, bank = found
    _check(row, bank, outcome)
    if row["status"] != "pending":
        return no_money(Change(intent, extra={"refund": row, "duplicate": True}))
    state = State(bank["state"])
    booked = bool(bank["booked"])
    amount = int(row["amount"])
    change = Change(intent, extra={"refund": row})
    values: dict[str, Any] = {"updated": int(time.time())}
    if outcome.bank_refund_id and not bank["bank_refund_id"]:
        values["bank_refund_id"] = outcome.bank_refund_id
    if outcome.resent:
        values["tries"] = int(bank["tries"]) + 1
    if state == State.sending:  # the first word from the bank: the merchant hears of it now
        change.event("refund.created", refunds.render(row))
    transfers: list[Transfer] = []
    if outcome.status in ("pending", "succeeded", "unconfirmed") and not booked:
        transfers.append(_booking(intent, refund_id, amount))
        values["booked"] = booked = True
        refunds.refunded(change, intent, amount)
    if outcome.status in ("pending", "unconfirmed"):
        wanted = State.sent if outcome.status == "pending" else State.unconfirmed
        if _RANK[wanted] > _RANK[state]:
            values["state"] = str(wanted)
    elif outcome.status == "succeeded":
        _settled(change, row, "succeeded", None, values)
    else:  # failed at the bank, or refused by it: the money comes back to the merchant
        if booked:
            transfers.append(_reversal(intent, refund_id, amount))
        failure = outcome.failure or "bank_rejected"
        after = touch(intent, amount_refunded=intent.amount_refunded - amount)
        change.intent = after
        if after.latest_charge:
            change.updates.append((store.charges, after.latest_charge,
                                   {"amount_refunded": after.amount_refunded}))  # fmt: skip
        _settled(change, row, "failed", failure, values)
    change.updates.append((store.bank_refunds, refund_id, values))
    if not transfers:
        return no_money(change)

    def settle(results: list[Any]) -> Change:
        assert all(r in OK for r in results), results  # neither account has a limit
        return change

    return Plan(settle, transfers, involved_accounts(intent))


def _check(row: dict[str, Any], bank: dict[str, Any], outcome: Outcome) -> None:
    """A callback (or answer) about another refund than this one is refused."""
    known = bank["bank_refund_id"]
    if (
        (outcome.amount_minor is not None and outcome.amount_minor != int(row["amount"]))
        or (outcome.currency is not None and outcome.currency.upper() != row["currency"])
        or (known and outcome.bank_refund_id and outcome.bank_refund_id != known)
    ):
        raise invalid("callback_mismatch", "The bank's word on this refund does not match "
                      "its amount, currency or bank refund id.")  # fmt: skip


def _settled(change: Change, row: dict[str, Any], status: str, failure: str | None,
             values: dict[str, Any]) -> None:  # fmt: skip
    settled = {**row, "status": status, "failure_reason": failure}
    change.updates.append((store.refunds, row["id"],
                           {"status": status, "failure_reason": failure}))  # fmt: skip
    change.extra["refund"] = settled
    values["state"] = status
    shown = refunds.render(settled)
    change.event("refund.updated" if status == "succeeded" else "refund.failed", shown)
    change.event("charge.refund.updated", shown)


def _booking(intent: Intent, refund_id: str, amount: int) -> Transfer:
    """The card refund's transfer: the merchant's balance back to the bank clearing account."""
    merchant = accounts.merchant(intent.livemode, intent.merchant_id, intent.currency).id
    return Transfer(refund_id, merchant, payer_account(intent).id, amount, intent.currency,
                    accounts.REFUND, 0, None, 0, intent.id)  # fmt: skip


def _reversal(intent: Intent, refund_id: str, amount: int) -> Transfer:
    merchant = accounts.merchant(intent.livemode, intent.merchant_id, intent.currency).id
    return Transfer(f"{refund_id}:reversal", payer_account(intent).id, merchant, amount,
                    intent.currency, accounts.REFUND_REVERSAL, 0, None, 0, intent.id)  # fmt: skip


def withdraw(tx: Tx, intent: Intent, refund_id: str) -> Plan:
    """The instruction never reached the bank: undo commit 1 (nobody has seen the refund:
    no event was sent and the request is answered 503), unless the bank's word came since."""
    found = _rows(tx.conn, refund_id)
    if found is None or found[1]["state"] != State.sending:
        return no_money(Change(intent, extra={"kept": True}))
    row = found[0]
    after = touch(intent, amount_refunded=intent.amount_refunded - int(row["amount"]))

    def delete(conn: Connection) -> None:
        for table in (store.refunds, store.bank_refunds):
            conn.execute(table.delete().where(table.c.id == refund_id))

    return no_money(Change(after, direct=[delete]))


# -- use cases (async: the bank answers over the network) ------------------------------------


async def create(writer: PaymentWriter, bank: BankChannel | None, caller: Caller,
                 intent_id: str, request: tuple[int | None, str | None, dict[str, str]],
                 *, idem: Idem | None) -> Any:  # fmt: skip
    """POST /v1/refunds for a bank transfer: the refund, `pending` (or `failed` when the bank
    refused the instruction); 503 bank_unavailable with nothing booked when the bank could
    not be reached at all."""
    if bank is None:
        raise PaymentError(Kind.unavailable, "bank_unavailable",
                           "No bank is connected (set RONGPAY_BANK_URL).")  # fmt: skip
    asked, reason, metadata = request

    def op(step: Callable[[Tx, Intent], Plan], **idem_args: Any) -> IntentOp:
        return IntentOp(caller.merchant_id, caller.livemode, intent_id, step, **idem_args)

    reserved = await writer.run_async(op(lambda tx, cur: reserve(tx, cur, asked, reason,
                                                                 metadata),
                                         idem=idem, idem_phase="reserve"))  # fmt: skip
    if not isinstance(reserved, Change):
        return reserved  # a replayed response
    row, order = reserved.extra["refund"], reserved.extra["bank"]["order_id"]
    try:
        answer = await bank.create_refund(order, reference=row["id"], amount_minor=row["amount"],
                                          currency=row["currency"])  # fmt: skip
        outcome = from_bank(answer)
    except BankError as exc:
        if exc.code == BankErrorCode.BANK_REJECTED:
            outcome = Outcome("refused", exc.bank_code or "bank_rejected")
        elif exc.maybe_sent:
            log.warning("bank refund %s: no answer (%s); the upkeep asks again", row["id"],
                        exc.message)  # fmt: skip
            outcome = Outcome("unconfirmed")
        else:
            refused = PaymentError(Kind.unavailable, "bank_unavailable",
                                   f"The bank cannot be reached ({exc.message}); nothing was "
                                   "refunded. Retry shortly.")  # fmt: skip
            await writer.run_async(op(lambda tx, cur: withdraw(tx, cur, row["id"])))
            await _release(writer, op, idem, refused)
            raise refused from None
    except Exception:  # the bank may have it: keep it, booked, and let the upkeep ask
        log.exception("bank refund %s failed unexpectedly", row["id"])
        outcome = Outcome("unconfirmed")
    return await writer.run_async(op(lambda tx, cur: advance(tx, cur, row["id"], outcome),
                                     idem=idem, idem_phase="complete"))  # fmt: skip


async def _release(writer: PaymentWriter, op: Callable[..., IntentOp], idem: Idem | None,
                   refused: PaymentError) -> None:  # fmt: skip
    """Forget the reserved idempotency key: a retry with it runs afresh."""
    if idem is None:
        return

    def refuse(tx: Tx, cur: Intent) -> Plan:
        raise refused  # the writer releases a 'complete' key when its op is refused

    with contextlib.suppress(PaymentError):
        await writer.run_async(op(refuse, idem=idem, idem_phase="complete"))


async def on_callback(engine: Engine, writer: PaymentWriter,
                      cb: BankRefundCallback) -> dict[str, Any]:  # fmt: skip
    """The bank's signed word on a refund; applied once however often it comes."""
    t = store.bank_refunds.c
    with unit_of_work(engine, write=False) as conn:
        row = conn.execute(sa.select(t.intent_id, t.merchant_id, t.livemode, t.order_id)
                           .where(t.id == cb.reference)).first()  # fmt: skip
    if row is None:
        raise missing("bank refund", cb.refund, "refund")
    if row.order_id != cb.order:
        raise invalid("callback_mismatch", "The bank's refund callback names another order "
                      "than the refunded payment's.")  # fmt: skip
    outcome = Outcome(cb.status, cb.failure_code, cb.refund, cb.amount_minor, cb.currency)
    op = IntentOp(row.merchant_id, bool(row.livemode), row.intent_id,
                  lambda tx, cur: advance(tx, cur, cb.reference, outcome))  # fmt: skip
    change = await writer.run_async(op)
    refund = change.extra["refund"]
    return {"received": True, "duplicate": bool(change.extra.get("duplicate")),
            "payment_intent": row.intent_id, "refund": refund["id"],
            "status": refund["status"]}  # fmt: skip


async def reconcile(engine: Engine, writer: PaymentWriter, bank: BankChannel,
                    older_than_s: int, limit: int = MAX_RECONCILE) -> int:  # fmt: skip
    """Refunds the bank has not called back about within OLDER_THAN_S: an instruction without
    an answer is sent again (same reference: the bank pays it once), one the bank took is
    looked up; what the bank says is applied as its callback would have been. Returns how
    many refunds changed."""
    t = store.bank_refunds.c
    before = int(time.time()) - older_than_s
    with unit_of_work(engine, write=False) as conn:
        rows = conn.execute(
            sa.select(store.bank_refunds)
            .where(t.state.in_([str(s) for s in WAITING]), t.updated <= before)
            .order_by(t.updated).limit(min(limit, MAX_RECONCILE))
        ).all()  # fmt: skip
    changed = 0
    for row in rows:
        outcome = await _ask(engine, bank, row)
        if outcome is None:
            continue
        op = IntentOp(row.merchant_id, bool(row.livemode), row.intent_id,
                      _advancing(str(row.id), outcome))  # fmt: skip
        try:
            change = await writer.run_async(op)
        except PaymentError as exc:
            log.warning("bank refund %s: the bank's answer was not applied: %s", row.id,
                        exc.message)  # fmt: skip
            continue
        changed += 0 if change.extra.get("duplicate") else 1
    return changed


def _advancing(refund_id: str, outcome: Outcome) -> Callable[[Tx, Intent], Plan]:
    return lambda tx, cur: advance(tx, cur, refund_id, outcome)


async def _ask(engine: Engine, bank: BankChannel, row: Any) -> Outcome | None:
    """The bank's word on one waiting refund, or None when it has nothing new to say."""
    try:
        if row.state == State.sent and row.bank_refund_id:
            found = await bank.get_refund(str(row.bank_refund_id))
            return from_bank(found) if found.status != "pending" else None
        amount, currency = _amount(engine, str(row.id))
        answer = await bank.create_refund(str(row.order_id), reference=str(row.id),
                                          amount_minor=amount, currency=currency)  # fmt: skip
        return from_bank(answer, resent=True)
    except BankError as exc:
        if exc.code != BankErrorCode.BANK_REJECTED:
            return None  # the bank is out of reach: next time
        if row.state == State.sent:  # it took the refund, now denies knowing it: a person looks
            log.error("bank refund %s (%s): the bank no longer knows it (%s); left pending",
                      row.id, row.bank_refund_id, exc.bank_code)  # fmt: skip
            return None
        # an instruction it refuses now was never taken (a replay returns the refund it has)
        return Outcome("refused", exc.bank_code or "bank_rejected", resent=True)


def _amount(engine: Engine, refund_id: str) -> tuple[int, str]:
    r = store.refunds.c
    with unit_of_work(engine, write=False) as conn:
        found = conn.execute(sa.select(r.amount, r.currency).where(r.id == refund_id)).one()
    return int(found.amount), str(found.currency)
