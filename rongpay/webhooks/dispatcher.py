"""Delivering events: claim due deliveries, POST them signed, record the outcome, back off.

All state lives in `webhook_deliveries`, so the dispatcher is restart-safe and several
processes can run one each. A claim is a lease: it moves the delivery's `next_attempt_at`
LEASE_MS ahead and stamps a token; if the process dies mid-POST the delivery simply falls due
again when the lease ends, and a late outcome from an expired lease is logged but changes
nothing (its token no longer matches). So an endpoint can receive an event twice (rarely):
receivers deduplicate on the event id, as with Stripe.

`deliver_due(engine, now)` is one round (tests drive it with their own clock);
`Dispatcher(engine)` runs rounds in an asyncio task next to the HTTP server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rongpay.security.signing import sign
from rongpay.store.engine import is_sqlite
from rongpay.store.uow import unit_of_work
from rongpay.webhooks import store
from rongpay.webhooks.endpoints import endpoint_from
from rongpay.webhooks.events import event_from
from rongpay.webhooks.schedule import DEFAULT_SCHEDULE, Schedule
from rongpay.webhooks.types import DeliveryStatus, EndpointStatus

log = logging.getLogger("rongpay.webhooks")

BATCH_LIMIT = 64  # deliveries claimed at once (a deliver_due round, or free dispatcher slots)
CONCURRENCY = 64  # POSTs in flight per process (dispatcher default)
MAX_CONCURRENCY = 256
RECORD_BATCH = 64  # outcomes written per transaction
RECORD_QUEUE = 4 * RECORD_BATCH  # outcomes waiting to be written; POSTs wait beyond
RECORD_GRACE_S = 5.0  # at stop, how long the last outcomes may take to be written
TIMEOUT_S = 10.0  # per POST, connect to last byte read
LEASE_MS = 120_000  # a claim's lifetime: more than a whole batch at the worst timeouts
EXCERPT_BYTES = 256  # of the response body kept in the attempts log
MAX_ERROR = 256
USER_AGENT = "rongpay-webhooks/1"
SIGNATURE_HEADER = "Rongpay-Signature"
MAX_IDLE_S = 30.0  # longest pause between rounds while the database is failing
assert TIMEOUT_S * 1000 * 4 < LEASE_MS  # a POST and the wait to record it fit in a lease


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed delivery, ready to POST."""

    delivery_id: str
    lease: str
    url: str
    attempts: int  # before this one
    manual: bool
    created_ms: int
    body: bytes = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    job: Job
    at_ms: int
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _due_query(now_ms: int, limit: int) -> sa.Select[tuple[object, ...]]:
    d, e, v = store.deliveries, store.endpoints, store.events
    return (
        sa.select(
            d.c.id.label("d_id"),
            d.c.attempts,
            d.c.manual,
            d.c.created.label("d_created"),
            e,
            v.c.id.label("event_id"),
            v.c.merchant_id.label("event_merchant"),
            v.c.type,
            v.c.created.label("ev_at"),
            v.c.api_version,
            v.c.data,
        )
        .join(e, e.c.id == d.c.endpoint_id)
        .join(v, v.c.id == d.c.event_id)
        .where(
            d.c.status == DeliveryStatus.PENDING.value,
            d.c.next_attempt_at <= now_ms,
            sa.or_(e.c.status == EndpointStatus.ENABLED.value, d.c.manual),
        )
        .order_by(d.c.next_attempt_at)
        .limit(limit)
    )


def _job(m: Mapping[Any, Any], lease: str, now_ms: int, bodies: dict[str, bytes]) -> Job:
    endpoint = endpoint_from(m)
    event_id = m["event_id"]
    if event_id not in bodies:
        event = event_from({**m, "id": event_id, "merchant_id": m["event_merchant"],
                            "created": m["ev_at"]})  # fmt: skip
        bodies[event_id] = orjson.dumps(event.payload())
    return Job(delivery_id=m["d_id"], lease=lease, url=endpoint.url, attempts=m["attempts"],
               manual=bool(m["manual"]), created_ms=m["d_created"], body=bodies[event_id],
               secrets=tuple(endpoint.signing_secrets(now_ms / 1000)))  # fmt: skip


def claim(engine: Engine, now_ms: int, limit: int = BATCH_LIMIT) -> list[Job]:
    """Lease up to LIMIT due deliveries (oldest due first) in one short transaction."""
    assert 1 <= limit <= 1000
    d = store.deliveries
    query = _due_query(now_ms, limit)
    if not is_sqlite(engine):  # SQLite's BEGIN IMMEDIATE already serialises claimers
        query = query.with_for_update(of=d, skip_locked=True)
    with unit_of_work(engine, write=False) as conn:  # most polls find nothing: no write lock
        if conn.execute(_due_query(now_ms, 1)).first() is None:
            return []
    with unit_of_work(engine) as conn:
        rows = [r._mapping for r in conn.execute(query)]
        if not rows:
            return []
        lease, bodies = os.urandom(8).hex(), dict[str, bytes]()
        jobs = [_job(m, lease, now_ms, bodies) for m in rows]
        conn.execute(
            sa.update(d).where(d.c.id == sa.bindparam("b_id"))
            .values(next_attempt_at=now_ms + LEASE_MS, lease=lease),
            [{"b_id": j.delivery_id} for j in jobs],
        )  # fmt: skip
    return jobs


def _headers(job: Job) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(job.secrets, job.body),
    }


async def post(client: httpx.AsyncClient, job: Job, now_ms: int) -> Outcome:
    """POST one job; any answer, timeout or connection error becomes an Outcome."""
    started = time.perf_counter()
    status, excerpt, error = None, b"", None
    try:
        async with asyncio.timeout(TIMEOUT_S):
            async with client.stream("POST", job.url, content=job.body,
                                     headers=_headers(job)) as resp:  # fmt: skip
                status = resp.status_code
                async for chunk in resp.aiter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= EXCERPT_BYTES:
                        break
    except TimeoutError:
        error = f"timeout: no complete answer within {TIMEOUT_S:g} s"
    except httpx.TimeoutException as exc:
        error = f"timeout: {type(exc).__name__}"
    except httpx.HTTPError as exc:
        error = f"connection error: {type(exc).__name__}"
    except Exception as exc:  # e.g. httpx.InvalidURL: one attempt fails, never the dispatcher
        error = f"request error: {type(exc).__name__}"
    latency_ms = int((time.perf_counter() - started) * 1000)
    if error is None and status is not None and not 200 <= status < 300:
        error = f"endpoint answered HTTP {status}"
    text = excerpt[:EXCERPT_BYTES].decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else " " for c in text)
    return Outcome(job, now_ms, status, latency_ms, text, error)


def _next_state(
    o: Outcome, schedule: Schedule, rand: random.Random
) -> tuple[DeliveryStatus, int | None]:
    if o.ok:
        return DeliveryStatus.DELIVERED, None
    if o.job.manual:
        return DeliveryStatus.FAILED, None
    at = schedule.next_attempt_ms(o.job.created_ms, o.job.attempts + 1, o.at_ms, rand)
    return (DeliveryStatus.FAILED, None) if at is None else (DeliveryStatus.PENDING, at)


def record(
    conn: Connection, outcomes: list[Outcome], schedule: Schedule, rand: random.Random
) -> None:
    """Log every attempt; move each delivery on, unless its lease was lost meanwhile."""
    if not outcomes:
        return
    d = store.deliveries
    conn.execute(sa.insert(store.attempts), [
        {"delivery_id": o.job.delivery_id, "created": o.at_ms, "status_code": o.status_code,
         "latency_ms": o.latency_ms, "response_excerpt": o.excerpt,
         "error": None if o.error is None else o.error[:MAX_ERROR]}
        for o in outcomes
    ])  # fmt: skip
    updates = []
    for o in outcomes:
        status, next_at = _next_state(o, schedule, rand)
        updates.append({"b_id": o.job.delivery_id, "b_lease": o.job.lease,
                        "b_status": status.value, "b_attempts": o.job.attempts + 1,
                        "b_next": next_at, "b_code": o.status_code,
                        "b_error": None if o.error is None else o.error[:MAX_ERROR]})  # fmt: skip
    conn.execute(
        sa.update(d)
        .where(d.c.id == sa.bindparam("b_id"), d.c.lease == sa.bindparam("b_lease"))
        .values(status=sa.bindparam("b_status"), attempts=sa.bindparam("b_attempts"),
                next_attempt_at=sa.bindparam("b_next"), lease=None,
                last_status_code=sa.bindparam("b_code"), last_error=sa.bindparam("b_error")),
        updates,
    )  # fmt: skip


async def deliver_due(
    engine: Engine,
    now: float | None = None,
    *,
    client: httpx.AsyncClient | None = None,
    schedule: Schedule = DEFAULT_SCHEDULE,
    limit: int = BATCH_LIMIT,
    concurrency: int = CONCURRENCY,
    rand: random.Random | None = None,
) -> int:
    """One round: claim what is due at NOW (unix seconds; default the wall clock), POST it
    with at most CONCURRENCY requests in flight, record the outcomes. Returns how many
    deliveries were attempted. The signature's timestamp is always the wall clock (receivers
    check it against theirs)."""
    now_ms = int((time.time() if now is None else now) * 1000)
    jobs = await asyncio.to_thread(claim, engine, now_ms, limit)
    if not jobs:
        return 0
    gate = asyncio.Semaphore(concurrency)

    async def one(c: httpx.AsyncClient, job: Job) -> Outcome:
        async with gate:
            return await post(c, job, now_ms)

    async with contextlib.AsyncExitStack() as stack:
        c = client if client is not None else await stack.enter_async_context(_client())
        outcomes = list(await asyncio.gather(*(one(c, j) for j in jobs)))
    await asyncio.to_thread(_record, engine, outcomes, schedule, rand or random.Random())
    return len(jobs)


def _record(engine: Engine, outcomes: list[Outcome], schedule: Schedule, rand: random.Random
            ) -> None:  # fmt: skip
    with unit_of_work(engine) as conn:
        record(conn, outcomes, schedule, rand)


def _client(
    transport: httpx.AsyncBaseTransport | None = None, concurrency: int = CONCURRENCY
) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False, transport=transport,
                             limits=httpx.Limits(max_connections=concurrency))  # fmt: skip


class Dispatcher:
    """Keeps up to CONCURRENCY POSTs in flight until stop(), in an asyncio task.

    A pipeline, not rounds: whenever slots are free it claims that many due deliveries, and
    a recorder writes outcomes in small batches as they come, so one endpoint that times
    out never holds back the others. With nothing due it polls every POLL_INTERVAL_S. A
    database error is logged and retried with backoff (up to MAX_IDLE_S); it never ends the
    task. Outcomes lost in a crash are safe: their deliveries fall due when the lease ends.

    ENGINE may be a callable that returns the engine (e.g. the API runtime's `rt.engine`),
    so a database that is down at start-up is picked up when it comes back.
    """

    def __init__(
        self,
        engine: Engine | Callable[[], Engine],
        *,
        schedule: Schedule = DEFAULT_SCHEDULE,
        poll_interval_s: float = 1.0,
        concurrency: int = CONCURRENCY,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        assert 1 <= concurrency <= MAX_CONCURRENCY
        self._engine = engine
        self._schedule = schedule
        self._poll_interval_s = poll_interval_s
        self._concurrency = concurrency
        self._clock = clock
        self._transport = transport
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue(RECORD_QUEUE)  # back-pressure
        self._in_flight: set[asyncio.Task[None]] = set()
        self._rand = random.Random()

    def start(self) -> None:
        """Start the task on the running event loop (call from async code, e.g. a lifespan)."""
        assert self._task is None, "Dispatcher.start() called twice"
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webhooks")

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop claiming, let POSTs in flight finish for up to GRACE_S, record what came back.
        Deliveries still in flight then are cancelled; their leases make them retry."""
        if self._task is None:
            return
        self._stopping.set()
        task, self._task = self._task, None
        try:
            await asyncio.wait_for(task, grace_s)
        except TimeoutError:
            log.warning("webhook dispatcher cancelled mid-flight; leased deliveries will retry")

    def _current_engine(self) -> Engine:
        return self._engine if isinstance(self._engine, Engine) else self._engine()

    async def _run(self) -> None:
        recorder = asyncio.create_task(self._record_loop())
        try:
            async with _client(self._transport, self._concurrency) as client:
                failures = 0
                while not self._stopping.is_set():
                    try:
                        full = await self._fill(client)
                        failures, wait_s = 0, (0.0 if full else self._poll_interval_s)
                    except Exception as exc:  # a background loop: log, back off, try again
                        failures += 1
                        wait_s = min(self._poll_interval_s * 2**failures, MAX_IDLE_S)
                        log.warning("webhook claim failed (%s); next try in %.0f s",
                                    type(exc).__name__, wait_s, exc_info=failures == 1)  # fmt: skip
                    await self._pause(wait_s)
                await asyncio.gather(*self._in_flight, return_exceptions=True)
        finally:
            for t in list(self._in_flight):
                t.cancel()
            with contextlib.suppress(TimeoutError):  # record what came back, if it can
                await asyncio.wait_for(self._outcomes.join(), RECORD_GRACE_S)
            recorder.cancel()

    async def _fill(self, client: httpx.AsyncClient) -> bool:
        """Claim as many due deliveries as there are free slots and start them. True when
        the slots are all taken (so look again as soon as one frees up)."""
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            return True
        engine = await asyncio.to_thread(self._current_engine)
        now_ms = int(self._clock() * 1000)
        jobs = await asyncio.to_thread(claim, engine, now_ms, min(free, BATCH_LIMIT))
        for job in jobs:
            task = asyncio.create_task(self._one(client, job, now_ms))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(jobs) == free

    async def _one(self, client: httpx.AsyncClient, job: Job, now_ms: int) -> None:
        await self._outcomes.put(await post(client, job, now_ms))

    async def _pause(self, wait_s: float) -> None:
        """Until WAIT_S passes, stop() is called, or (when the slots are full) one frees up."""
        if self._in_flight and wait_s == 0.0:
            await asyncio.wait(set(self._in_flight), timeout=self._poll_interval_s,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), wait_s)

    async def _record_loop(self) -> None:
        while True:
            batch = [await self._outcomes.get()]
            while len(batch) < RECORD_BATCH and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            try:
                engine = await asyncio.to_thread(self._current_engine)
                await asyncio.to_thread(_record, engine, batch, self._schedule, self._rand)
            except Exception as exc:  # the leases bring these deliveries back: no loss
                log.warning("recording %d webhook attempts failed (%s); they will be retried",
                            len(batch), type(exc).__name__, exc_info=True)  # fmt: skip
            finally:
                for _ in batch:
                    self._outcomes.task_done()
