"""The sandbox card issuer: an asyncio TCP server speaking ISO 8583 (`rongpay.wire.iso8583`).

SIMULATED. In test mode the gateway's card channel talks to this process instead of a card
network. It behaves like an issuer's authorisation host, honestly:

- every answer comes after a lognormal latency (median `latency_ms`, shape `jitter`);
- with `drop_rate` > 0, some financial messages are lost: half of them on the way in (nothing
  happens), half on the way out (the issuer acted, the acquirer never hears), so the acquirer's
  timeout-and-reversal path is exercised for real;
- balances, holds, captures, refunds and reversals follow `sim.issuer_book`;
- the test cards of `sim.issuer_cards` decide outcomes; one card is never answered;
- a card marked for dispute is charged back `dispute_after_s` after capture with an
  unsolicited 0422 advice, repeated (0423) until the acquirer acknowledges it with 0432.

Run it as its own process: `rongpay sandbox issuer --port 8583`. Tests start `IssuerServer`
in-process on port 0. State is in memory: a restart forgets every account and hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from rongpay.security.cards import mask
from rongpay.sim.issuer_book import DEFAULT_BALANCE_MINOR, IssuerBook, Txn
from rongpay.wire.iso8583 import (
    Message,
    Mti,
    WireError,
    decode,
    encode,
    read_frame,
)

log = logging.getLogger(__name__)

MAX_LATENCY_FACTOR = 10  # a latency draw is capped at 10x the median
MAX_ADVICE_TRIES = 30  # chargeback advices are repeated at most this often
MAX_CONNECTIONS = 64
_DROPPABLE = frozenset({"0100", "0101", "0200", "0201", "0400", "0401", "0420", "0421"})


@dataclass(frozen=True, slots=True)
class IssuerConfig:
    latency_ms: float = 20.0
    jitter: float = 0.3  # sigma of the lognormal latency; 0 for a fixed latency
    drop_rate: float = 0.0
    dispute_after_s: float = 2.0
    advice_retry_s: float = 1.0
    default_balance_minor: int = DEFAULT_BALANCE_MINOR
    seed: int | None = None


class _Session:
    """One acquirer connection."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.acquirer_ids: set[str] = set()

    @property
    def open(self) -> bool:
        return not self.writer.is_closing()

    def send(self, frame: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(frame)


class IssuerServer:
    """The sandbox issuer's server; `book` is its state (tests read balances from it)."""

    def __init__(self, config: IssuerConfig | None = None, book: IssuerBook | None = None):
        self.config = config or IssuerConfig()
        self._rng = random.Random(self.config.seed)
        self.book = book or IssuerBook(
            default_balance_minor=self.config.default_balance_minor, rng=self._rng
        )
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._advice_acks: dict[str, asyncio.Future[Message]] = {}
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on HOST:PORT (0: any free port) and return the port."""
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("sandbox issuer (simulated) listening on %s:%d", host, self.port)
        return self.port

    async def close(self) -> None:
        """Stop listening, drop every connection, cancel pending chargebacks."""
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    # -- connections --------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._sessions) >= MAX_CONNECTIONS:
            log.warning("refusing a connection: %d already open", MAX_CONNECTIONS)
            writer.close()
            return
        session = _Session(writer)
        self._sessions.add(session)
        try:
            while (frame := await read_frame(reader)) is not None:
                self._on_frame(session, frame)
        except WireError as exc:
            log.warning("closing a connection after a bad frame: %s", exc)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._sessions.discard(session)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _on_frame(self, session: _Session, frame: bytes) -> None:
        try:
            msg = decode(frame)
        except WireError as exc:
            log.warning("refused a malformed message (%s): %s", exc.code, exc)
            answer = self.book.format_error(exc.partial)
            if answer is not None:
                session.send(encode(answer))
            return
        _trace("<-", msg)
        mti = msg["t"]
        if mti == Mti.CHARGEBACK_RESPONSE:
            ack = self._advice_acks.pop(msg["11"], None)
            if ack is not None and not ack.done():
                ack.set_result(msg)
            return
        if mti[2] in "13":  # a response or advice response we did not ask for
            return
        if msg.get("32"):
            session.acquirer_ids.add(f"{msg['32']:0>11}")
        dropped = mti in _DROPPABLE and self._rng.random() < self.config.drop_rate
        if dropped and self._rng.random() < 0.5:
            log.debug("dropped %s stan=%s on the way in", mti, msg["11"])
            return
        outcome = self.book.handle(msg)
        if outcome.dispute is not None:
            self._spawn(self._dispute_later(outcome.dispute))
        if outcome.response is None or dropped:
            log.debug("no answer to %s stan=%s", mti, msg["11"])
            return
        self._answer_later(session, outcome.response)

    def _answer_later(self, session: _Session, answer: Message) -> None:
        frame = encode(answer)
        delay_s = self._latency_s()
        if delay_s <= 0:
            session.send(frame)
        else:
            asyncio.get_running_loop().call_later(delay_s, session.send, frame)
        _trace("->", answer)

    def _latency_s(self) -> float:
        median = self.config.latency_ms
        if median <= 0:
            return 0.0
        draw = median
        if self.config.jitter > 0:
            draw = self._rng.lognormvariate(math.log(median), self.config.jitter)
        return min(draw, median * MAX_LATENCY_FACTOR) / 1000.0

    # -- chargebacks --------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispute_later(self, txn: Txn) -> None:
        await asyncio.sleep(self.config.dispute_after_s)
        advice = self.book.chargeback(txn)
        if advice is None:
            return
        log.info("chargeback (simulated) for rrn %s, %s minor units", txn.rrn, int(advice["4"]))
        for attempt in range(MAX_ADVICE_TRIES):
            if attempt:
                advice["t"] = Mti.CHARGEBACK_ADVICE_REPEAT
            session = self._session_for(txn.acquirer_id)
            if session is not None:
                ack = asyncio.get_running_loop().create_future()
                self._advice_acks[advice["11"]] = ack
                session.send(encode(advice))
                _trace("->", advice)
                try:
                    reply = await asyncio.wait_for(ack, self.config.advice_retry_s)
                except TimeoutError:
                    continue
                finally:
                    self._advice_acks.pop(advice["11"], None)
                if reply.get("39") == "00":
                    return
            await asyncio.sleep(self.config.advice_retry_s)
        log.warning("chargeback advice for rrn %s never acknowledged", txn.rrn)

    def _session_for(self, acquirer_id: str) -> _Session | None:
        live = [s for s in self._sessions if s.open]
        for session in live:
            if acquirer_id in session.acquirer_ids:
                return session
        return live[0] if live else None


def _trace(direction: str, msg: Message) -> None:
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "issuer %s %s stan=%s pan=%s amount=%s rc=%s rrn=%s",
            direction,
            msg.get("t"),
            msg.get("11"),
            mask(msg["2"]) if "2" in msg else "-",
            msg.get("4", "-"),
            msg.get("39", "-"),
            msg.get("37", "-"),
        )


async def run(config: IssuerConfig, host: str, port: int) -> None:
    """Serve until cancelled (the CLI's Ctrl-C)."""
    server = IssuerServer(config)
    bound = await server.start(host, port)
    print(f"sandbox issuer (simulated) listening on {host}:{bound}", flush=True)
    try:
        await server.serve_forever()
    finally:
        await server.close()
