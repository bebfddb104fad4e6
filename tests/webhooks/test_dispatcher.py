"""Delivery against a real local HTTP receiver, driven round by round with an injected clock."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import httpx
import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay import webhooks
from rongpay.store.paging import Page
from rongpay.store.uow import unit_of_work
from rongpay.webhooks import endpoints, events, store
from rongpay.webhooks.dispatcher import (
    LEASE_MS,
    USER_AGENT,
    Dispatcher,
    Job,
    Outcome,
    claim,
    deliver_due,
    post,
    record,
)
from rongpay.webhooks.outbox import emit
from rongpay.webhooks.parse import EndpointPatch
from rongpay.webhooks.schedule import Schedule
from rongpay.webhooks.types import Delivery

from .conftest import OWNER, Receiver, closed_port_url, make_endpoint, serving

EXACT = Schedule(jitter_pct=0)  # the default delays without jitter: predictable times


def _emit(engine: Engine, created: int | None = None) -> str:
    with unit_of_work(engine) as conn:
        return emit(conn, merchant_id=OWNER.merchant_id, livemode=False,
                    type="payment_intent.succeeded", obj={"id": "pi_1", "amount": 1099},
                    created=created)  # fmt: skip


def _round(engine: Engine, now: float, schedule: Schedule = EXACT) -> int:
    return asyncio.run(deliver_due(engine, now, schedule=schedule, rand=random.Random(7)))


def _deliveries(engine: Engine, event_id: str) -> list[Delivery]:
    rows, _ = events.list_deliveries(engine, OWNER, event_id, Page(limit=100))
    return rows


def test_fails_twice_then_delivered_on_the_third_attempt(
    engine: Engine, receiver: Receiver
) -> None:
    receiver.script = [500, 503, 200]
    endpoint = make_endpoint(engine, receiver.url)
    t0 = int(time.time())
    event_id = _emit(engine, created=t0)
    assert _round(engine, t0) == 1
    assert _round(engine, t0 + 59) == 0  # the retry waits a minute
    assert _round(engine, t0 + 60) == 1
    assert _round(engine, t0 + 60 + 299) == 0  # then five
    assert _round(engine, t0 + 60 + 300) == 1
    assert _round(engine, t0 + 10_000) == 0  # delivered: nothing left
    assert len(receiver.requests) == 3
    last = receiver.requests[-1]
    assert last.headers["Content-Type"] == "application/json"
    assert last.headers["User-Agent"] == USER_AGENT
    event = webhooks.verify(last.body, last.headers["Rongpay-Signature"], endpoint.secret)
    assert event["id"] == event_id and event["type"] == "payment_intent.succeeded"
    assert event["data"] == {"object": {"id": "pi_1", "amount": 1099}}
    [delivery] = _deliveries(engine, event_id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert [a.status_code for a in delivery.log] == [500, 503, 200]
    assert delivery.log[0].response_excerpt == "upstream broke"
    assert delivery.log[0].error == "endpoint answered HTTP 500"


def test_gives_up_after_three_days(engine: Engine) -> None:
    make_endpoint(engine, closed_port_url())
    t0 = int(time.time())
    event_id = _emit(engine, created=t0)
    now, rounds = float(t0), 0
    while rounds < 100:
        assert _round(engine, now) == 1
        rounds += 1
        [d] = _deliveries(engine, event_id)
        if d.next_attempt_at_ms is None:
            break
        now = d.next_attempt_at_ms / 1000
    assert d.status == "failed" and d.attempts == rounds
    # 1 min, 5 min, 30 min, 2 h, 5 h, then every 10 h: 12 attempts fit in 3 days.
    assert rounds == 12
    assert d.log[-1].created_ms <= (t0 + 3 * 86_400) * 1000
    assert all(a.error and a.error.startswith("connection error") for a in d.log)
    assert _round(engine, now + 86_400) == 0


def test_a_dead_claim_is_retried_when_its_lease_ends(engine: Engine, receiver: Receiver) -> None:
    make_endpoint(engine, receiver.url)
    t0 = int(time.time())
    event_id = _emit(engine, created=t0)
    now_ms = t0 * 1000
    [stale] = claim(engine, now_ms)  # a process that claims, then dies
    assert _round(engine, t0 + 1) == 0  # still leased
    [fresh] = claim(engine, now_ms + LEASE_MS)  # the lease ended: claimed again
    assert fresh.lease != stale.lease
    late = asyncio.run(_post_one(stale, now_ms))
    with unit_of_work(engine) as conn:  # the dead claim's late outcome is logged, not applied
        record(conn, [late], EXACT, random.Random(1))
    [d] = _deliveries(engine, event_id)
    assert (d.status, d.attempts, len(d.log)) == ("pending", 0, 1)
    with unit_of_work(engine) as conn:
        record(conn, [asyncio.run(_post_one(fresh, now_ms + LEASE_MS))], EXACT, random.Random(1))
    [d] = _deliveries(engine, event_id)
    assert (d.status, d.attempts, len(d.log)) == ("delivered", 1, 2)


async def _post_one(job: Job, now_ms: int) -> Outcome:
    async with httpx.AsyncClient() as client:
        return await post(client, job, now_ms)


def test_resend_by_hand_is_one_attempt(engine: Engine, receiver: Receiver) -> None:
    good = make_endpoint(engine, receiver.url)
    bad = make_endpoint(engine, closed_port_url(), ["refund.created"])  # not subscribed
    t0 = int(time.time())
    event_id = _emit(engine, created=t0)
    assert _round(engine, t0) == 1
    again = events.resend(engine, OWNER, event_id, good.id, now_ms=(t0 + 5) * 1000)
    doomed = events.resend(engine, OWNER, event_id, bad.id, now_ms=(t0 + 5) * 1000)
    assert again.manual and again.status == "pending"
    assert _round(engine, t0 + 5) == 2
    assert [orjson.loads(r.body)["id"] for r in receiver.requests] == [event_id, event_id]
    by_id = {d.id: d for d in _deliveries(engine, event_id)}
    assert by_id[again.id].status == "delivered"
    assert (by_id[doomed.id].status, by_id[doomed.id].attempts) == ("failed", 1)
    assert len(by_id) == 3


def test_disabled_endpoint_waits_and_resumes(engine: Engine, receiver: Receiver) -> None:
    endpoint = make_endpoint(engine, receiver.url)
    t0 = int(time.time())
    _emit(engine, created=t0)
    endpoints.update_endpoint(engine, OWNER, endpoint.id, EndpointPatch(disabled=True))
    assert _round(engine, t0 + 1) == 0
    endpoints.update_endpoint(engine, OWNER, endpoint.id, EndpointPatch(disabled=False))
    assert _round(engine, t0 + 2) == 1 and len(receiver.requests) == 1


def test_deleting_an_endpoint_fails_its_pending_deliveries(engine: Engine) -> None:
    endpoint = make_endpoint(engine, closed_port_url())
    event_id = _emit(engine)
    endpoints.delete_endpoint(engine, OWNER, endpoint.id)
    [d] = _deliveries(engine, event_id)
    assert (d.status, d.last_error) == ("failed", "endpoint deleted")
    assert _round(engine, time.time() + 60) == 0


def test_rotation_signs_with_both_secrets_until_the_old_one_expires(
    engine: Engine, receiver: Receiver
) -> None:
    old = make_endpoint(engine, receiver.url)
    t0 = int(time.time())
    new = endpoints.roll_secret(engine, OWNER, old.id, 3600, now_s=t0)
    assert new.secret != old.secret and new.previous_secret_expires_at == t0 + 3600
    _emit(engine, created=t0)
    _round(engine, t0)
    _emit(engine, created=t0 + 3600)
    _round(engine, t0 + 3600)
    during, after = receiver.requests
    assert during.headers["Rongpay-Signature"].count("v1=") == 2
    for secret in (old.secret, new.secret):
        webhooks.verify(during.body, during.headers["Rongpay-Signature"], secret)
    assert after.headers["Rongpay-Signature"].count("v1=") == 1
    webhooks.verify(after.body, after.headers["Rongpay-Signature"], new.secret)
    with pytest.raises(webhooks.SignatureError, match="no signature matches"):
        webhooks.verify(after.body, after.headers["Rongpay-Signature"], old.secret)


def test_dispatcher_task_delivers_and_stops(engine: Engine, receiver: Receiver) -> None:
    make_endpoint(engine, receiver.url)
    event_id = _emit(engine)

    async def run() -> None:
        dispatcher = Dispatcher(engine, poll_interval_s=0.05, schedule=Schedule(delays_ms=(10,)))
        dispatcher.start()
        try:
            got = await asyncio.to_thread(receiver.got_one.wait, 30)
            assert got
        finally:
            await dispatcher.stop()

    asyncio.run(run())
    assert orjson.loads(receiver.requests[0].body)["id"] == event_id
    d = store.deliveries
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the outcome is recorded just after the answer
        with engine.connect() as conn:
            status = conn.execute(sa.select(d.c.status)).scalar_one()
        if status == "delivered":
            break
        time.sleep(0.05)
    assert status == "delivered"


def test_dispatcher_survives_a_database_that_is_down_at_first(
    engine: Engine, receiver: Receiver
) -> None:
    make_endpoint(engine, receiver.url)
    _emit(engine)
    calls: list[int] = []

    def flaky_engine() -> Engine:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database down")
        return engine

    async def run() -> None:
        dispatcher = Dispatcher(flaky_engine, poll_interval_s=0.01)
        dispatcher.start()
        try:
            assert await asyncio.to_thread(receiver.got_one.wait, 30)
        finally:
            await dispatcher.stop()

    asyncio.run(run())
    assert len(calls) >= 2 and len(receiver.requests) == 1


def test_racing_claimers_never_share_a_delivery(engine: Engine) -> None:
    for _ in range(4):
        make_endpoint(engine, "https://example.com/h")
    t0 = int(time.time())
    for _ in range(10):
        _emit(engine, created=t0)  # 40 deliveries
    barrier = threading.Barrier(4)
    claimed: list[list[str]] = []

    def claimer() -> None:
        barrier.wait()
        claimed.append([j.delivery_id for j in claim(engine, t0 * 1000, limit=15)])

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [d for batch in claimed for d in batch]
    assert len(every) == len(set(every)) == 40


def test_a_hanging_endpoint_does_not_hold_back_the_others(
    engine: Engine, receiver: Receiver
) -> None:
    with serving(Receiver()) as slow:
        slow.hold.clear()  # answers nothing until released
        make_endpoint(engine, slow.url)
        t0 = int(time.time())
        _emit(engine, created=t0)  # reaches the slow endpoint only: it hangs
        make_endpoint(engine, receiver.url)

        async def run() -> None:
            dispatcher = Dispatcher(engine, poll_interval_s=0.02, concurrency=4)
            dispatcher.start()
            try:
                assert await asyncio.to_thread(_first_request, slow)
                _emit(engine, created=t0)  # to both: the fast one answers meanwhile
                assert await asyncio.to_thread(receiver.got_one.wait, 30)
                assert not slow.got_one.is_set()  # the first POST is still hanging
            finally:
                slow.hold.set()
                await dispatcher.stop(grace_s=30)

        asyncio.run(run())
    assert len(receiver.requests) == 1 and slow.got_one.is_set()


def _first_request(r: Receiver) -> bool:
    deadline = time.monotonic() + 30
    while not r.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(r.requests)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.ReadTimeout("slow"), "timeout: ReadTimeout"),
        (httpx.ConnectError("refused"), "connection error: ConnectError"),
        (httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
         "endpoint answered HTTP 302"),
        (httpx.InvalidURL("odd"), "request error: InvalidURL"),
    ],
)  # fmt: skip
def test_failures_of_every_kind_are_logged_and_retried(
    engine: Engine, answer: Exception | httpx.Response, error: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    make_endpoint(engine, "https://example.com/hook")
    t0 = int(time.time())
    event_id = _emit(engine, created=t0)

    async def one_round() -> int:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await deliver_due(engine, t0, client=client, schedule=EXACT)

    assert asyncio.run(one_round()) == 1
    [d] = _deliveries(engine, event_id)
    assert (d.status, d.attempts, d.last_error) == ("pending", 1, error)
    assert d.next_attempt_at_ms == (t0 + 60) * 1000
