"""The card channel, acquirer side: ISO 8583 over one persistent TCP connection to the issuer
(in test mode the sandbox issuer, `rongpay sandbox issuer`, a separate process).

Why it is built this way:

- One connection, many requests in flight, each answer matched to its request by response MTI
  and STAN (field 11): a round trip costs one small write and one future, not a connection.
- Money is never left half-moved. A financial request with no answer within `timeout_s` (or
  whose connection died after it was written) may have been acted on, so it is reversed: 0400,
  repeated as 0401 up to REVERSAL_TRIES times; if still unanswered, the reversal is kept and
  sent as a 0420 advice (0421 repeats) whenever the connection is up, until acknowledged. The
  caller gets `outcome=timeout, reversal_sent=True`. When no connection can be made, nothing
  was sent and the outcome is `unavailable`. Given an `AdviceStore`, queued advices are kept
  in the database instead of memory (a restart loses none) and `flush_advices` sends them.
- An authorisation's identity (STAN, transmission time, acquirer id) can be chosen before it
  is sent (`prepare_authorization`, then `send`), so the caller can record it first: if the
  process dies with the request unanswered, `reverse_original` reverses it from that record.
- Chargebacks arrive unsolicited (0422/0423). Each is passed to `on_chargeback` and
  acknowledged with 0432 only after the handler returned, so a crash in between makes the
  issuer repeat it (handlers must be idempotent on the RRN).

Card numbers travel only inside the messages; logs name STAN, RRN and masked PANs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any, Protocol

from rongpay import money
from rongpay.security.cards import CardDetails
from rongpay.wire import iso8583 as wire
from rongpay.wire.iso8583 import Message, Mti, WireError

log = logging.getLogger(__name__)

REVERSAL_TRIES = 3  # 0400 then 0401 repeats, before the reversal becomes a queued advice
MAX_QUEUED_ADVICES = 100_000
MAX_ADVICE_TRIES = 1_000  # a queued reversal advice is repeated at most this often
MAX_FLUSH = 100  # stored advices sent by one flush_advices call
MAX_IN_FLIGHT = 4_096  # requests awaiting an answer on the connection
RECONNECT_GAP_S = 0.25  # after a failed connect, callers get `unavailable` this long
RECONNECT_MAX_S = 2.0
ECHO_INTERVAL_S = 30.0


class CardOutcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    CHALLENGE_REQUIRED = "challenge_required"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"


# Field 39 -> Stripe's decline_code. Anything else declines as generic_decline.
DECLINE_CODES: dict[str, str] = {
    "05": "generic_decline",
    "12": "transaction_not_allowed",
    "13": "invalid_amount",
    "14": "incorrect_number",
    "25": "processing_error",
    "30": "processing_error",
    "41": "lost_card",
    "43": "stolen_card",
    "51": "insufficient_funds",
    "54": "expired_card",
    "57": "transaction_not_allowed",
    "61": "withdrawal_count_limit_exceeded",
    "62": "restricted_card",
    "91": "issuer_not_available",
    "96": "processing_error",
    "N7": "incorrect_cvc",
    "82": "incorrect_cvc",
    "1A": "authentication_required",
}


@dataclass(frozen=True, slots=True)
class CardResult:
    """What the issuer said (or that it said nothing). The last four fields identify the
    request message (field 90 of a later capture, refund or reversal is built from them); a
    result rebuilt from storage without them still works, matched by its RRN."""

    outcome: CardOutcome
    response_code: str | None  # field 39
    decline_code: str | None  # Stripe vocabulary
    auth_code: str | None  # field 38
    rrn: str | None  # field 37, assigned by the issuer
    stan: str  # field 11 of our request
    latency_ms: float
    reversal_sent: bool  # a timeout's reversal was acknowledged, or is queued until it is
    reversal_acknowledged: bool = False
    mti: str = ""
    transmitted_at: str = ""  # field 7 of our request
    acquirer_id: str = ""  # field 32 of our request
    processing_code: str = ""


@dataclass(frozen=True, slots=True)
class Chargeback:
    """An issuer's chargeback advice: the transaction (its authorisation RRN) is disputed."""

    rrn: str
    amount_minor: int
    currency: str
    reason: str  # e.g. fraudulent


ChargebackHandler = Callable[[Chargeback], Awaitable[None]]

# The fields of a request that identify it and that a reversal repeats: no card number (field
# 2), no expiry (14) and no private data (48, which carries the CVC). What `request_record`
# keeps, and all `reverse_original` needs besides the card.
RECORDED_FIELDS = ("t", "3", "4", "7", "11", "12", "13", "18", "22", "25", "32", "41", "42", "49")


@dataclass(frozen=True, slots=True)
class QueuedAdvice:
    """A stored reversal advice, ready to send: MESSAGE is complete (card number included, in
    memory only) but for its STAN and field 7, which each try sets afresh."""

    id: str
    message: Message
    tries: int


class AdviceStore(Protocol):
    """Where unanswered reversals wait (durably) until the issuer acknowledges them. Called
    from a worker thread (the methods may block on a database)."""

    def add(self, advice: Message, card: CardDetails, reference: str) -> None:
        """Keep ADVICE (a 0420 without STAN) for CARD until acknowledged."""

    def due(self, limit: int) -> list[QueuedAdvice]:
        """Up to LIMIT advices still to send, oldest first."""

    def settle(self, advice_id: str, *, acknowledged: bool, tries: int) -> None:
        """Acknowledged (done), or tried once more without an answer (TRIES so far; the store
        gives up, loudly, at MAX_ADVICE_TRIES)."""


class _NotSent(Exception):
    """No connection: the request never left this process."""


class _NoAnswer(Exception):
    """Sent, but no answer in time (or the connection died): it may have been acted on."""


class _Link:
    """One TCP connection and the requests awaiting an answer on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pending: dict[tuple[str, str], asyncio.Future[Message]] = {}
        self.last_io = time.monotonic()
        self.task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return not self.writer.is_closing()

    def fail_pending(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(_NoAnswer())
        self.pending.clear()


class CardNetwork:
    """The acquirer's connection to the card issuer (see the module docstring)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout_s: float = 5.0,
        on_chargeback: ChargebackHandler | None = None,
        acquirer_id: str | None = None,
        terminal_id: str = "RONGPAY1",
        advices: AdviceStore | None = None,
    ) -> None:
        assert timeout_s > 0 and len(terminal_id) <= 8
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.on_chargeback = on_chargeback
        self.advice_store = advices  # None: advices are queued in memory (lost on restart)
        # Field 32: names this gateway instance, so field 90 keys stay unique across processes.
        self.acquirer_id = acquirer_id or f"{random.randrange(10**5, 10**6)}"
        self.terminal_id = f"{terminal_id:<8}"
        self._link: _Link | None = None
        self._connect_lock = asyncio.Lock()
        self._failed_at = -RECONNECT_GAP_S
        self._stan = random.randrange(999_999)
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._advices: deque[tuple[Message, int]] = deque()  # reversal advice, tries so far
        self._tasks: set[asyncio.Task[None]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._closed = False

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (an unreachable issuer is not an error: calls answer `unavailable` until
        it is back) and keep the connection up in the background."""
        self._closed = False
        await self._ensure_link()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def close(self) -> None:
        self._closed = True
        tasks = [t for t in (self._supervisor, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        link, self._link = self._link, None
        if link is not None:
            link.writer.close()
            link.fail_pending()
            with contextlib.suppress(Exception):
                await link.writer.wait_closed()
            if link.task is not None:
                link.task.cancel()
                await asyncio.gather(link.task, return_exceptions=True)

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.alive

    @property
    def queued_reversals(self) -> int:
        """Advices queued in memory (with an AdviceStore, they are in the store instead)."""
        return len(self._advices)

    # -- the four operations ------------------------------------------------------------------

    async def authorize(
        self,
        card: CardDetails,
        *,
        amount_minor: int,
        currency: str,
        merchant_id: str,
        mcc: str,
        entry_mode: str,
        authenticated: bool,
        reference: str,
        capture: bool,
    ) -> CardResult:
        """capture=False: 0100 authorisation (a hold, captured later); True: 0200 purchase."""
        msg = self.prepare_authorization(
            card,
            amount_minor=amount_minor,
            currency=currency,
            merchant_id=merchant_id,
            mcc=mcc,
            entry_mode=entry_mode,
            authenticated=authenticated,
            capture=capture,
        )
        return await self.send(msg, card, reference)

    def prepare_authorization(
        self,
        card: CardDetails,
        *,
        amount_minor: int,
        currency: str,
        merchant_id: str,
        mcc: str,
        entry_mode: str,
        authenticated: bool,
        capture: bool,
    ) -> Message:
        """The 0100 (capture=False) or 0200 that `authorize` sends, its identity (STAN, field
        7, field 32) already chosen: record `request_record(msg)` durably, then `send` it."""
        if entry_mode not in wire.ENTRY_MODES:
            raise ValueError(f"unknown entry mode {entry_mode!r}: {sorted(wire.ENTRY_MODES)}")
        if not (len(mcc) == 4 and mcc.isdigit()):
            raise ValueError("mcc must be 4 digits")
        msg = self._card_message(
            Mti.FINANCIAL_REQUEST if capture else Mti.AUTH_REQUEST,
            wire.ProcessingCode.PURCHASE,
            card,
            amount_minor,
            currency,
            merchant_id,
        )
        msg["14"] = wire.expiry(card.exp_month, card.exp_year)
        msg["18"] = mcc
        mode = wire.ENTRY_MODES[entry_mode]
        msg["22"] = mode
        ecommerce = mode in wire.ECOMMERCE_ENTRY_MODES
        msg["25"] = wire.POS_CONDITION_ECOMMERCE if ecommerce else wire.POS_CONDITION_NORMAL
        private = {"AU": "Y" if authenticated else "N"}
        if card.cvc:
            private["CV"] = card.cvc
        msg["48"] = wire.build_tlv(private)
        link = self._link
        self._assign_ids(msg, link.pending if link is not None else {})
        return msg

    async def send(self, msg: Message, card: CardDetails, reference: str) -> CardResult:
        """Send a request made by `prepare_authorization`; one that goes unanswered is
        reversed (as `authorize` does)."""
        return await self._transact(msg, reference, card)

    async def reverse_original(
        self, card: CardDetails, record: Mapping[str, str], reference: str
    ) -> CardResult:
        """0400 (then 0401 repeats) reversing the request RECORD (`request_record` of it) for
        CARD, whether or not its answer ever came. Not queued as an advice when unanswered:
        the outcome is then `timeout` (or `unavailable`: nothing left this process) and the
        caller tries again later. `response_code` 25 means the issuer never got the request."""
        assert all(k in record for k in ("t", "3", "4", "7", "11", "32")), sorted(record)
        original: Message = {k: str(v) for k, v in record.items() if k in RECORDED_FIELDS}
        original["2"] = card.pan
        reversal = reversal_of(original)
        started = time.perf_counter()
        try:
            answer = await self._reverse(reversal, reference, card, queue=False)
        except _NotSent:
            return self._silence(reversal, started, CardOutcome.UNAVAILABLE, acknowledged=False)
        if answer is None:
            return self._silence(reversal, started, CardOutcome.TIMEOUT, acknowledged=False)
        return self._result(reversal, answer, started)

    async def capture(
        self,
        card: CardDetails,
        *,
        original: CardResult,
        amount_minor: int,
        currency: str,
        merchant_id: str,
        reference: str,
    ) -> CardResult:
        """0200 completion of the authorisation ORIGINAL, for up to its amount (the rest of
        the hold is released)."""
        msg = self._follow_up(
            wire.ProcessingCode.PURCHASE, card, original, amount_minor, currency, merchant_id
        )
        if original.auth_code:
            msg["38"] = original.auth_code
        return await self._transact(msg, reference)

    async def refund(
        self,
        card: CardDetails,
        *,
        original: CardResult,
        amount_minor: int,
        currency: str,
        merchant_id: str,
        reference: str,
    ) -> CardResult:
        """0200 with processing code 20: return up to the captured amount of ORIGINAL."""
        msg = self._follow_up(
            wire.ProcessingCode.REFUND, card, original, amount_minor, currency, merchant_id
        )
        return await self._transact(msg, reference)

    async def reverse(
        self,
        card: CardDetails,
        *,
        original: CardResult,
        amount_minor: int,
        currency: str,
        merchant_id: str,
        reference: str,
    ) -> CardResult:
        """0400 reversal of the message ORIGINAL answered (an authorisation: its hold is
        released; a purchase, completion or refund: undone). Repeated as 0401, then queued
        as an advice; a repeated reversal is harmless."""
        msg = self._follow_up(
            original.processing_code or wire.ProcessingCode.PURCHASE,
            card,
            original,
            amount_minor,
            currency,
            merchant_id,
        )
        msg["t"] = Mti.REVERSAL_REQUEST
        started = time.perf_counter()
        answer = await self._reverse(msg, reference, card)
        if answer is None:
            return self._silence(msg, started, CardOutcome.TIMEOUT, acknowledged=False)
        return self._result(msg, answer, started)

    async def flush_advices(self, limit: int = MAX_FLUSH) -> int:
        """Send the stored reversal advices that are due (up to LIMIT, concurrently); returns
        how many the issuer acknowledged. Without an AdviceStore, 0: the in-memory queue is
        sent by the background task instead."""
        store = self.advice_store
        if store is None or self._closed:
            return 0
        due = await asyncio.to_thread(store.due, min(limit, MAX_FLUSH))
        if not due or await self._ensure_link() is None:
            if due:
                log.info("issuer unreachable: %d stored reversal advices wait", len(due))
            return 0
        outcomes = await asyncio.gather(*(self._send_stored(store, item) for item in due))
        return sum(outcomes)

    async def _send_stored(self, store: AdviceStore, item: QueuedAdvice) -> bool:
        advice = dict(item.message)
        advice["t"] = Mti.REVERSAL_ADVICE if item.tries == 0 else Mti.REVERSAL_ADVICE_REPEAT
        try:
            await self._request(advice)
        except _NotSent:
            return False  # nothing was written: not a try
        except _NoAnswer:
            await asyncio.to_thread(store.settle, item.id, acknowledged=False, tries=item.tries + 1)
            return False
        await asyncio.to_thread(store.settle, item.id, acknowledged=True, tries=item.tries + 1)
        return True

    async def echo(self) -> bool:
        """0800 echo test: True when the issuer answered."""
        msg: Message = {"t": Mti.NETWORK_REQUEST, "70": wire.NetworkCode.ECHO}
        try:
            answer = await self._request(msg)
        except (_NotSent, _NoAnswer):
            return False
        return answer.get("39") == wire.ResponseCode.APPROVED

    # -- building messages --------------------------------------------------------------------

    def _card_message(
        self,
        mti: str,
        processing_code: str,
        card: CardDetails,
        amount_minor: int,
        currency: str,
        merchant_id: str,
    ) -> Message:
        if not 0 <= amount_minor < 10**12:
            raise ValueError("amount_minor must be 0 to 999999999999")
        now = time.time()
        return {
            "t": mti,
            "2": card.pan,
            "3": processing_code,
            "4": wire.amount_field(amount_minor),
            "12": time.strftime("%H%M%S", time.gmtime(now)),
            "13": time.strftime("%m%d", time.gmtime(now)),
            "32": self.acquirer_id,
            "41": self.terminal_id,
            "42": merchant_field(merchant_id),
            "49": currency_number(currency),
        }

    def _follow_up(
        self,
        processing_code: str,
        card: CardDetails,
        original: CardResult,
        amount_minor: int,
        currency: str,
        merchant_id: str,
    ) -> Message:
        """A message about ORIGINAL: its RRN in field 37, its identity in field 90."""
        msg = self._card_message(
            Mti.FINANCIAL_REQUEST, processing_code, card, amount_minor, currency, merchant_id
        )
        if original.rrn:
            msg["37"] = original.rrn
        msg["90"] = wire.OriginalData(
            mti=original.mti or Mti.AUTH_REQUEST,
            stan=original.stan if original.stan.isdigit() else "0",
            transmitted_at=original.transmitted_at or "0",
            acquirer_id=original.acquirer_id or self.acquirer_id,
        ).encode()
        return msg

    # -- exchanges ----------------------------------------------------------------------------

    async def _transact(
        self, msg: Message, reference: str, card: CardDetails | None = None
    ) -> CardResult:
        """Send a financial request; reverse it if it goes unanswered."""
        started = time.perf_counter()
        written: list[bool] = []  # _request appends once MSG is written
        try:
            answer = await self._request(msg, written)
        except _NotSent:
            log.info("card %s %s: issuer unavailable", msg["t"], reference)
            return self._silence(msg, started, CardOutcome.UNAVAILABLE, acknowledged=False)
        except _NoAnswer:
            log.warning(
                "card %s stan=%s %s: no answer in %.1f s, reversing",
                msg["t"],
                msg.get("11"),
                reference,
                self.timeout_s,
            )
            acknowledged = await self._reverse(reversal_of(msg), reference, card) is not None
            return self._silence(msg, started, CardOutcome.TIMEOUT, acknowledged=acknowledged)
        except asyncio.CancelledError:
            if written:  # the caller gave up, the money must not stay moved
                self._spawn(self._reverse_quietly(reversal_of(msg), reference, card))
            raise
        return self._result(msg, answer, started)

    async def _reverse_quietly(
        self, reversal: Message, reference: str, card: CardDetails | None
    ) -> None:
        log.warning("card request for %s cancelled after it was sent: reversing", reference)
        await self._reverse(reversal, reference, card)

    async def _reverse(
        self, reversal: Message, reference: str, card: CardDetails | None, *, queue: bool = True
    ) -> Message | None:
        """Send REVERSAL (0400, then 0401 repeats, same STAN); when every try goes
        unanswered, queue it as a 0420 advice (unless QUEUE is False) and return None. With
        QUEUE False, _NotSent when not one try could be written."""
        written = False
        for attempt in range(REVERSAL_TRIES):
            reversal["t"] = Mti.REVERSAL_REQUEST if attempt == 0 else Mti.REVERSAL_REQUEST_REPEAT
            try:
                return await self._request(reversal)
            except _NotSent:
                await asyncio.sleep(min(self.timeout_s, RECONNECT_GAP_S * (attempt + 1)))
            except _NoAnswer:
                written = True
                continue
        if not queue:
            if not written:
                raise _NotSent
            return None
        await self._queue_advice(reversal, reference, card)
        return None

    async def _queue_advice(
        self, reversal: Message, reference: str, card: CardDetails | None
    ) -> None:
        advice = {k: v for k, v in reversal.items() if k not in ("11", "7")}
        advice["t"] = Mti.REVERSAL_ADVICE  # a fresh STAN and field 7 each time it is sent
        if self.advice_store is not None and card is not None:
            try:
                await asyncio.to_thread(self.advice_store.add, advice, card, reference)
            except Exception:  # the database is down: keep it here rather than lose it
                log.exception("could not store the reversal advice for %s: kept in memory",
                              reference)  # fmt: skip
            else:
                log.warning("reversal for %s unanswered: stored as a 0420 advice", reference)
                return
        if len(self._advices) >= MAX_QUEUED_ADVICES:
            log.error(
                "reversal queue full: reversal for %s NOT queued, reconcile by hand", reference
            )
            return
        log.warning("reversal for %s unanswered: queued as a 0420 advice", reference)
        self._advices.append((advice, 0))

    async def _request(self, msg: Message, written: list[bool] | None = None) -> Message:
        """Write MSG (fields 7, 11 and 32 set here; a message that already has a STAN keeps it,
        as a repeat or a prepared request must) and await its answer. WRITTEN, when given, gets
        True appended once the message is written."""
        async with self._slots:
            link = await self._ensure_link()
            if link is None:
                raise _NotSent
            if "11" not in msg:
                self._assign_ids(msg, link.pending)
            msg["32"] = msg.get("32") or self.acquirer_id
            key = (wire.response_mti(msg["t"]), msg["11"])
            if key in link.pending:  # a prepared STAN met one still in flight (after a wrap)
                raise _NotSent
            future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
            link.pending[key] = future
            frame = wire.encode(msg)
            if written is not None:
                written.append(True)
            link.writer.write(frame)
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await future
            except TimeoutError:
                raise _NoAnswer from None
            finally:
                if link.pending.get(key) is future:
                    del link.pending[key]

    def _assign_ids(self, msg: Message, pending: Mapping[tuple[str, str], object]) -> None:
        """Fields 11 (a STAN not awaiting an answer), 7 (now) and 32 of a new request."""
        msg["11"] = self._next_stan(pending, msg["t"])
        msg["7"] = wire.transmission_time()
        msg["32"] = msg.get("32") or self.acquirer_id

    def _next_stan(self, pending: Mapping[tuple[str, str], object], mti: str) -> str:
        response = wire.response_mti(mti)
        for _ in range(MAX_IN_FLIGHT + 1):
            self._stan = self._stan % 999_999 + 1
            stan = f"{self._stan:06d}"
            if (response, stan) not in pending:
                return stan
        raise AssertionError("no free STAN")  # MAX_IN_FLIGHT bounds what is pending

    def _result(self, msg: Message, answer: Message, started: float) -> CardResult:
        code = answer.get("39", "")
        if code == wire.ResponseCode.APPROVED:
            outcome, decline = CardOutcome.APPROVED, None
        elif code == wire.ResponseCode.AUTHENTICATION_REQUIRED:
            outcome, decline = CardOutcome.CHALLENGE_REQUIRED, DECLINE_CODES[code]
        else:
            outcome, decline = CardOutcome.DECLINED, DECLINE_CODES.get(code, "generic_decline")
        return CardResult(
            outcome=outcome,
            response_code=code,
            decline_code=decline,
            auth_code=answer.get("38"),
            rrn=answer.get("37") or msg.get("37"),
            stan=msg["11"],
            latency_ms=(time.perf_counter() - started) * 1000.0,
            reversal_sent=False,
            mti=base_request_mti(msg["t"]),
            transmitted_at=msg["7"],
            acquirer_id=msg["32"],
            processing_code=msg["3"],
        )

    def _silence(
        self, msg: Message, started: float, outcome: CardOutcome, *, acknowledged: bool
    ) -> CardResult:
        timed_out = outcome is CardOutcome.TIMEOUT
        sent = outcome is not CardOutcome.UNAVAILABLE  # a prepared STAN that never left: none
        return CardResult(
            outcome=outcome,
            response_code=None,
            decline_code="processing_error" if timed_out else "issuer_not_available",
            auth_code=None,
            rrn=msg.get("37"),
            stan=msg.get("11", "") if sent else "",
            latency_ms=(time.perf_counter() - started) * 1000.0,
            reversal_sent=timed_out,
            reversal_acknowledged=acknowledged,
            mti=base_request_mti(msg["t"]),
            transmitted_at=msg.get("7", "") if sent else "",
            acquirer_id=msg.get("32", ""),
            processing_code=msg["3"],
        )

    # -- the connection -----------------------------------------------------------------------

    async def _ensure_link(self) -> _Link | None:
        """The live connection, connecting if needed; None when the issuer cannot be reached
        (callers then answer `unavailable` at once rather than queue behind a dead host)."""
        link = self._link
        if link is not None and link.alive:
            return link
        if self._closed or time.monotonic() - self._failed_at < RECONNECT_GAP_S:
            return None
        async with self._connect_lock:
            link = self._link
            if link is not None and link.alive:
                return link
            if time.monotonic() - self._failed_at < RECONNECT_GAP_S:
                return None
            try:
                async with asyncio.timeout(min(self.timeout_s, RECONNECT_MAX_S)):
                    reader, writer = await asyncio.open_connection(self.host, self.port)
            except (OSError, TimeoutError) as exc:
                self._failed_at = time.monotonic()
                log.info("cannot reach the card issuer at %s:%d: %s", self.host, self.port, exc)
                return None
            link = _Link(reader, writer)
            link.task = asyncio.get_running_loop().create_task(self._read(link))
            self._link = link
            log.info("connected to the card issuer at %s:%d", self.host, self.port)
            return link

    async def _read(self, link: _Link) -> None:
        """Dispatch everything the issuer sends on LINK until it closes."""
        try:
            while (frame := await wire.read_frame(link.reader)) is not None:
                link.last_io = time.monotonic()
                try:
                    msg = wire.decode(frame)
                except WireError as exc:
                    log.warning(
                        "ignored a malformed message from the issuer (%s): %s", exc.code, exc
                    )
                    continue
                self._dispatch(link, msg)
        except WireError as exc:
            log.warning("closing the issuer connection after a bad frame: %s", exc)
        except (ConnectionError, OSError) as exc:
            log.warning("lost the issuer connection: %s", exc)
        finally:
            link.writer.close()
            link.fail_pending()
            if self._link is link:
                self._link = None

    def _dispatch(self, link: _Link, msg: Message) -> None:
        mti = msg["t"]
        if wire.base_mti(mti) == Mti.CHARGEBACK_ADVICE:
            self._spawn(self._chargeback(link, msg))
            return
        future = link.pending.pop((mti, msg.get("11", "")), None)
        if future is None:
            log.debug("late or unknown answer %s stan=%s dropped", mti, msg.get("11"))
        elif not future.done():
            future.set_result(msg)

    async def _chargeback(self, link: _Link, msg: Message) -> None:
        code: str
        try:
            reason = wire.parse_tlv(msg.get("48", "")).get("DR", "unknown")
            notice = Chargeback(
                rrn=msg["37"],
                amount_minor=int(msg["4"]),
                currency=currency_code(msg["49"]),
                reason=reason,
            )
        except (WireError, KeyError) as exc:
            log.warning("refused a malformed chargeback advice: %s", exc)
            code = wire.ResponseCode.FORMAT_ERROR
        else:
            code = await self._deliver(notice)
        ack = {"t": Mti.CHARGEBACK_RESPONSE, "11": msg["11"], "37": msg["37"], "39": code}
        if link.alive:
            link.writer.write(wire.encode(ack))

    async def _deliver(self, notice: Chargeback) -> str:
        if self.on_chargeback is None:
            log.warning("chargeback for rrn %s with no handler: not acknowledged", notice.rrn)
            return wire.ResponseCode.SYSTEM_MALFUNCTION
        try:
            await self.on_chargeback(notice)
        except Exception:
            # Not acknowledged: the issuer repeats the advice, nothing is lost.
            log.exception("the chargeback handler failed for rrn %s", notice.rrn)
            return wire.ResponseCode.SYSTEM_MALFUNCTION
        return wire.ResponseCode.APPROVED

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _supervise(self) -> None:
        """Keep the connection up (chargebacks need it), send queued reversal advices, and
        probe an idle connection with 0800 echoes."""
        backoff_s = RECONNECT_GAP_S
        while not self._closed:
            link = await self._ensure_link()
            if link is None:
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, RECONNECT_MAX_S)
                continue
            backoff_s = RECONNECT_GAP_S
            if self._advices:
                await self._send_advice()
                continue
            if time.monotonic() - link.last_io > ECHO_INTERVAL_S and not await self.echo():
                link.writer.close()
            await asyncio.sleep(min(1.0, self.timeout_s))

    async def _send_advice(self) -> None:
        advice, tries = self._advices[0]
        advice["t"] = Mti.REVERSAL_ADVICE if tries == 0 else Mti.REVERSAL_ADVICE_REPEAT
        try:
            await self._request(advice)
        except (_NotSent, _NoAnswer):
            if tries + 1 >= MAX_ADVICE_TRIES:
                self._advices.popleft()
                log.error("reversal advice stan=%s given up after %d tries", advice["11"], tries)
            else:
                self._advices[0] = (advice, tries + 1)
            return
        self._advices.popleft()


def request_record(msg: Message) -> dict[str, str]:
    """What to store about request MSG so that it can be reversed later without its answer:
    its identity and the fields a reversal repeats, never the card number, expiry or CVC."""
    return {k: str(msg[k]) for k in RECORDED_FIELDS if k in msg}


def reversal_of(msg: Message) -> Message:
    """The 0400 reversing MSG, named exactly by field 90 (no RRN: if the issuer never got MSG,
    there is nothing to reverse and it must not guess)."""
    original = wire.OriginalData(
        mti=base_request_mti(msg["t"]),
        stan=msg["11"],
        transmitted_at=msg["7"],
        acquirer_id=msg["32"],
    )
    keep = ("2", "3", "4", "12", "13", "22", "32", "41", "42", "49")
    reversal = {k: msg[k] for k in keep if k in msg}
    reversal["t"] = Mti.REVERSAL_REQUEST
    reversal["90"] = original.encode()
    return reversal


def base_request_mti(mti: str) -> str:
    return wire.base_mti(mti)


def merchant_field(merchant_id: str) -> str:
    """Field 42 is 15 characters: short ids as they are, longer ones by a stable digest."""
    text = merchant_id if merchant_id.isascii() and merchant_id.isprintable() else ""
    if 0 < len(text) <= 15:
        return f"{text:<15}"
    return hashlib.sha256(merchant_id.encode()).hexdigest()[:15]


@cache
def currency_number(code: str) -> str:
    return money.currency(code).number


@cache
def currency_code(number: str) -> str:
    for found in money.currencies().values():
        if found.number == number:
            return found.code
    return number
