"""Card attempts a crashed process left half done, and reversal advices that must outlive it.

A card confirmation is two commits around a network call (card_flow.py). If the process dies
between them, the issuer may have acted on a request whose answer nobody booked: a purchase
(0200) leaves the cardholder charged, an authorisation (0100) leaves a hold. So the first
commit also records what is about to be sent (`pay_card_requests`: the message's identity,
STAN, field 7, acquirer id, and the fields a reversal repeats, never card data) and the
idempotency key the confirmation reserved. The upkeep sweep (`recover`) then, for each card
attempt still `processing` after STUCK_AFTER_S:

1. claims it in the database (`recovery = reversing`), so a second commit that comes late
   after all is refused (`check_open`) instead of booking what is being reversed;
2. sends a 0400 reversal of the recorded request (answer 25, "no such original", means the
   request never arrived: nothing to undo). If the issuer cannot be reached or does not
   answer, the attempt stays as it is for the next sweep (logged), never failed without it;
3. fails the attempt (`processing_error`, nothing charged) and completes the reserved
   idempotency key with that answer, in one commit.

`CardAdvices` keeps the connector's unanswered reversals (0420 advices) in the database
(`pay_card_advices`, the card number sealed in the vault) so a restart re-sends them; the
upkeep sweep sends them (`CardNetwork.flush_advices`) until the issuer acknowledges.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rongpay.ledger.store import Sql
from rongpay.payments import idempotency, steps, store
from rongpay.payments.channels.card import (
    MAX_ADVICE_TRIES,
    CardOutcome,
    CardResult,
    QueuedAdvice,
    currency_number,
    request_record,
)
from rongpay.payments.errors import Kind, PaymentError
from rongpay.payments.idempotency import Idem
from rongpay.payments.intents import Intent
from rongpay.payments.ops import Change, IntentOp, Plan, no_money
from rongpay.payments.types import CaptureMethod, IntentStatus, new_id
from rongpay.payments.writer import Tx
from rongpay.security.cards import CardDetails
from rongpay.security.store import insert_record, load_record
from rongpay.security.vault import Vault, VaultError
from rongpay.store.uow import unit_of_work
from rongpay.wire.iso8583 import Message, Mti, ResponseCode

if TYPE_CHECKING:
    from rongpay.payments.gateway import Gateway

log = logging.getLogger("rongpay.payments.recovery")

Respond = Callable[[Any], tuple[int, bytes]]
MAX_RECOVER = 200  # stuck attempts handled by one sweep
INTERRUPTED = "The payment was interrupted; nothing was charged."
REVERSING, REVERSED, REFUSED = "reversing", "reversed", "refused"


# -- the first commit ---------------------------------------------------------------------------


def request_row(charge_id: str, intent: Intent, msg: Message, idem: Idem | None) -> dict[str, Any]:
    """The `pay_card_requests` row written with the attempt's pending charge (commit 1)."""
    if (
        int(msg["4"]) != intent.amount
        or msg["49"] != currency_number(intent.currency)
        or (msg["t"] == Mti.FINANCIAL_REQUEST) != (intent.capture_method == CaptureMethod.automatic)
    ):
        raise PaymentError(Kind.conflict, "payment_intent_unexpected_state",
                           "The payment intent changed during the confirmation.")  # fmt: skip
    return {
        "id": charge_id, "intent_id": intent.id, "merchant_id": intent.merchant_id,
        "livemode": intent.livemode, "request": orjson.dumps(request_record(msg)).decode(),
        "idem_owner": idem.owner if idem else None, "idem_key": idem.key if idem else None,
        "idem_fingerprint": idem.fingerprint if idem else None, "recovery": None,
        "created": int(time.time()), "recovered": None,
    }  # fmt: skip


_RECOVERY = "SELECT recovery FROM pay_card_requests WHERE id = ?"


def check_open(conn: Connection, charge_id: str | None) -> None:
    """Refuse the second commit of an attempt the recovery has taken over (it is being, or
    was, reversed at the issuer): booking it now would book money the issuer gives back."""
    row = Sql(conn).one(_RECOVERY, (charge_id,))  # every card answer: the plain cursor
    if row is not None and row[0] is not None:
        raise PaymentError(Kind.conflict, "payment_intent_unexpected_state",
                           "The payment attempt was interrupted and reversed.")  # fmt: skip


# -- recovery -----------------------------------------------------------------------------------


async def recover(
    gateway: Gateway, *, before: int, respond: Respond | None, limit: int = MAX_RECOVER
) -> int:
    """Reverse and fail the card attempts in `processing` since before BEFORE (epoch s) that
    recorded their request; returns how many were failed. Screening holds are not attempts
    (no request was recorded) and are left alone."""
    t, r = store.intents.c, store.card_requests.c
    with unit_of_work(gateway.engine, write=False) as conn:
        rows = conn.execute(
            sa.select(t.id, t.merchant_id, t.livemode, r.id.label("charge"), r.request,
                      r.idem_owner, r.idem_key, r.idem_fingerprint)
            .join(store.card_requests, r.id == t.latest_charge)
            .where(t.status == "processing", t.updated < before,
                   sa.or_(r.recovery.is_(None), r.recovery == REVERSING))
            .order_by(t.updated).limit(min(limit, MAX_RECOVER))
        ).all()  # fmt: skip
    done = 0
    for row in rows:
        outcome = await _recover_one(gateway, row, respond)
        if outcome is None:  # the issuer is out of reach: the others wait for the next sweep
            break
        done += outcome
    return done


async def _recover_one(gateway: Gateway, row: Any, respond: Respond | None) -> bool | None:
    """True: reversed and failed; False: left as it is; None: the issuer is out of reach."""
    livemode = bool(row.livemode)
    claim = IntentOp(row.merchant_id, livemode, row.id, lambda tx, cur: _claim(tx, cur, row.charge))
    claimed: Change = await gateway.writer.run_async(claim)
    if not claimed.extra.get("claimed"):
        return False
    record = orjson.loads(row.request)
    where = f"{row.id} (charge {row.charge}, stan {record.get('11')})"
    result = await _reverse(gateway, claimed.intent, record, where)
    if result is None:
        return False
    if result.outcome in (CardOutcome.TIMEOUT, CardOutcome.UNAVAILABLE):
        log.warning("card attempt %s cut short: the issuer cannot be reached for its reversal "
                    "(%s); left in processing for the next sweep", where,
                    result.outcome)  # fmt: skip
        return None
    if result.outcome != CardOutcome.APPROVED and (
        result.response_code != ResponseCode.ORIGINAL_NOT_FOUND
    ):
        log.error("card attempt %s cut short: the issuer refused its reversal (response %s); "
                  "left in processing, reconcile it by hand", where,
                  result.response_code)  # fmt: skip
        refused = IntentOp(row.merchant_id, livemode, row.id,
                           lambda tx, cur: _mark(cur, row.charge, REFUSED))  # fmt: skip
        await gateway.writer.run_async(refused)
        return False
    idem = _idem(row, respond)
    fail = IntentOp(row.merchant_id, livemode, row.id,
                    lambda tx, cur: _fail(cur, row.charge, record, result, idem, respond),
                    idem=idem if respond is not None else None,
                    idem_phase="complete")  # fmt: skip
    try:
        await gateway.writer.run_async(fail)
    except PaymentError as exc:  # resolved meanwhile (another process's sweep)
        log.info("card attempt %s: %s", where, exc.message)
        return False
    what = "undone" if result.outcome == CardOutcome.APPROVED else "never received"
    log.warning("card attempt %s cut short: reversed at the issuer (%s) and failed", where, what)
    return True


async def _reverse(
    gateway: Gateway, intent: Intent, record: dict[str, str], where: str
) -> CardResult | None:
    """What came of the reversal of RECORD, or None (logged) when it cannot be sent: no
    network, or no card to name."""
    if gateway.card is None:
        log.warning("card attempt %s cut short: no card network to reverse it; left in "
                    "processing for the next sweep", where)  # fmt: skip
        return None
    card = _open_card(gateway.engine, gateway.vault, intent)
    if card is None:
        log.error("card attempt %s cut short: its card cannot be opened from the vault, so it "
                  "cannot be reversed; reconcile it with the issuer by hand", where)  # fmt: skip
        return None
    return await gateway.card.reverse_original(card, record, f"{intent.id}:recovery")


def _held(intent: Intent) -> bool:
    return ((intent.risk or {}).get("screening") or {}).get("decision") == "hold"


def _attempt_open(intent: Intent, charge_id: str) -> bool:
    return (
        intent.status == IntentStatus.processing
        and intent.latest_charge == charge_id
        and not _held(intent)
    )


def _claim(tx: Tx, intent: Intent, charge_id: str) -> Plan:
    """Take the attempt over (its second commit is refused from now on), if still open."""
    r = store.card_requests.c
    state = tx.conn.execute(sa.select(r.recovery).where(r.id == charge_id)).scalar()
    ok = _attempt_open(intent, charge_id) and state in (None, REVERSING)
    change = Change(intent, extra={"claimed": ok})
    if ok and state is None:
        change.updates.append((store.card_requests, charge_id, {"recovery": REVERSING}))
    return no_money(change)


def _mark(intent: Intent, charge_id: str, state: str) -> Plan:
    change = Change(intent)
    change.updates.append((store.card_requests, charge_id, {"recovery": state}))
    return no_money(change)


def _fail(intent: Intent, charge_id: str, record: dict[str, str], reversal: CardResult,
          idem: Idem | None, respond: Respond | None) -> Plan:  # fmt: skip
    if not _attempt_open(intent, charge_id):
        raise PaymentError(Kind.conflict, "payment_intent_unexpected_state",
                           "The interrupted attempt was resolved meanwhile.")  # fmt: skip
    error = steps.payment_error("processing_error", "processing_error", INTERRUPTED)
    network = {
        "outcome": str(CardOutcome.TIMEOUT), "response_code": None,
        "decline_code": "processing_error", "auth_code": None, "rrn": reversal.rrn,
        "stan": record.get("11", ""), "latency_ms": 0.0, "reversal_sent": True,
        "reversal_acknowledged": True, "mti": record.get("t", ""),
        "transmitted_at": record.get("7", ""), "acquirer_id": record.get("32", ""),
        "processing_code": record.get("3", ""),
    }  # fmt: skip
    change = steps.failed_attempt(intent, error, risk=intent.risk, network=network,
                                  charge_id=charge_id)  # fmt: skip
    change.updates.append((store.card_requests, charge_id,
                           {"recovery": REVERSED, "recovered": int(time.time())}))  # fmt: skip
    if idem is not None and respond is None:  # no way to render the answer here: a retry runs
        change.direct.append(lambda conn: idempotency.release(conn, idem))
    return no_money(change)


def _idem(row: Any, respond: Respond | None) -> Idem | None:
    if row.idem_key is None:
        return None
    return Idem(row.idem_owner, bool(row.livemode), row.idem_key, row.idem_fingerprint,
                respond or _no_answer)  # fmt: skip


def _no_answer(result: Any) -> tuple[int, bytes]:
    raise AssertionError("a released key is never answered")


def _open_card(engine: Engine, vault: Vault, intent: Intent) -> CardDetails | None:
    pm = intent.payment_method or {}
    token = (pm.get(str(pm.get("type"))) or {}).get("token")
    if not token:
        return None
    with unit_of_work(engine, write=False) as conn:
        record = load_record(conn, str(token))
    if record is None:
        return None
    try:
        return vault.open(record)
    except VaultError:
        return None


# -- stored reversal advices ----------------------------------------------------------------


class CardAdvices:
    """The connector's AdviceStore in the database: the 0420 without its card number, which
    is sealed in the vault (`card_token`)."""

    def __init__(self, engine: Engine, vault: Vault) -> None:
        self.engine = engine
        self.vault = vault

    def add(self, advice: Message, card: CardDetails, reference: str) -> None:
        record = self.vault.seal(card)
        message = {k: v for k, v in advice.items() if k not in ("2", "7", "11")}
        now = int(time.time())
        with unit_of_work(self.engine) as conn:
            insert_record(conn, record, now_s=now)
            conn.execute(store.card_advices.insert().values(
                id=new_id("adv"), card_token=record.token, message=orjson.dumps(message).decode(),
                reference=reference[:200], status="queued", tries=0, created=now, updated=now,
            ))  # fmt: skip

    def due(self, limit: int) -> list[QueuedAdvice]:
        a = store.card_advices.c
        with unit_of_work(self.engine, write=False) as conn:
            rows = conn.execute(
                sa.select(a.id, a.card_token, a.message, a.tries)
                .where(a.status == "queued").order_by(a.seq).limit(limit)
            ).all()  # fmt: skip
            records = {r.id: load_record(conn, r.card_token) for r in rows}
        out = []
        for row in rows:
            found = records[row.id]
            try:
                card = self.vault.open(found) if found is not None else None
            except VaultError:
                card = None
            if card is None:
                log.error("reversal advice %s: its card cannot be opened from the vault; "
                          "reconcile it with the issuer by hand", row.id)  # fmt: skip
                self._set(row.id, status="abandoned", tries=int(row.tries))
                continue
            message = orjson.loads(row.message)
            message["2"] = card.pan
            out.append(QueuedAdvice(row.id, message, int(row.tries)))
        return out

    def settle(self, advice_id: str, *, acknowledged: bool, tries: int) -> None:
        if acknowledged:
            self._set(advice_id, status="acknowledged", tries=tries)
        elif tries >= MAX_ADVICE_TRIES:
            log.error("reversal advice %s given up after %d tries; reconcile it with the "
                      "issuer by hand", advice_id, tries)  # fmt: skip
            self._set(advice_id, status="abandoned", tries=tries)
        else:
            self._set(advice_id, status="queued", tries=tries)

    def pending(self) -> int:
        """How many advices still wait for the issuer's acknowledgement."""
        a = store.card_advices.c
        with unit_of_work(self.engine, write=False) as conn:
            count = conn.execute(
                sa.select(sa.func.count()).select_from(store.card_advices)
                .where(a.status == "queued")
            ).scalar()  # fmt: skip
        return int(count or 0)

    def _set(self, advice_id: str, *, status: str, tries: int) -> None:
        a = store.card_advices.c
        with unit_of_work(self.engine) as conn:
            conn.execute(store.card_advices.update().where(a.id == advice_id)
                         .values(status=status, tries=tries, updated=int(time.time())))  # fmt: skip
