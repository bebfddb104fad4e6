"""Webhooks end to end: a merchant registers an endpoint at a local receiver, pays through the
served app, and the receiver gets the events signed so that `rongpay.webhooks.verify` accepts
them; a receiver that fails twice gets the event later (the dispatcher driven with
`deliver_due` and an injected clock rather than minutes of waiting)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from rongpay.store import engine as store_engine
from rongpay.webhooks import verify
from rongpay.webhooks.dispatcher import deliver_due

from .e2e_support import (
    VISA,
    WAIT_S,
    Api,
    app_served,
    assert_ledger_ok,
    free_socket,
    issuer_running,
    new_merchant,
    poll,
    set_env,
)


@dataclass
class Receiver:
    """A merchant's webhook receiver: answers each POST with the next status of SCRIPT (the
    last one repeats) and keeps what it got."""

    script: list[int] = field(default_factory=lambda: [200])
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.got.append((headers, body))
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def received(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return list(self.got)


@contextmanager
def receiving(state: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.answer({k.lower(): v for k, v in self.headers.items()}, body)
            reply = b"ok" if status < 300 else b"broken"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class World:
    gw: Api
    engine: Engine
    receiver: Receiver


def world_fixture(db_url: str, monkeypatch: pytest.MonkeyPatch, script: list[int]
                  ) -> Iterator[World]:  # fmt: skip
    sock = free_socket()
    app_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with issuer_running() as issuer, receiving(Receiver(script)) as receiver:
        set_env(monkeypatch, issuer, base_url=app_url)
        with app_served(db_url, sock), httpx.Client(base_url=app_url, timeout=WAIT_S) as client:
            engine = store_engine.create(db_url)
            try:
                yield World(new_merchant(client), engine, receiver)
            finally:
                engine.dispose()
    assert_ledger_ok(db_url)


@pytest.fixture
def world(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from world_fixture(db_url, monkeypatch, [200])


@pytest.fixture
def flaky(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from world_fixture(db_url, monkeypatch, [500, 503, 200])


def register(w: World, events: list[str]) -> dict[str, Any]:
    r = w.gw.post("/v1/webhook_endpoints", {"url": w.receiver.url, "enabled_events": events})
    assert r.status_code == 200, r.text
    made: dict[str, Any] = r.json()
    assert made["secret"].startswith("whsec_")
    return made


def deliveries(w: World, event_id: str) -> list[dict[str, Any]]:
    r = w.gw.get(f"/v1/events/{event_id}/deliveries")
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def nudge(w: World, now: float | None = None) -> None:
    """One dispatcher round at NOW (besides the app's own dispatcher)."""
    asyncio.run(deliver_due(w.engine, now))


def succeeded_event(w: World, intent_id: str) -> dict[str, Any]:
    found = [e for e in w.gw.events("payment_intent.succeeded")
             if e["data"]["object"]["id"] == intent_id]  # fmt: skip
    assert len(found) == 1, found
    return found[0]


def test_receiver_gets_the_signed_succeeded_event(world: World) -> None:
    w = world
    endpoint = register(w, ["payment_intent.succeeded", "charge.refunded"])
    pi = w.gw.pay(VISA, 2000)
    event = succeeded_event(w, pi["id"])

    def arrived() -> list[tuple[dict[str, str], bytes]] | None:
        got = w.receiver.received()
        if not got:
            nudge(w)
        return got or None

    headers, body = poll(arrived, "the webhook")[0]
    sent = verify(body, headers.get("rongpay-signature"), endpoint["secret"])
    assert sent["id"] == event["id"] and sent["type"] == "payment_intent.succeeded"
    assert sent["data"]["object"]["id"] == pi["id"]
    assert sent["data"]["object"]["status"] == "succeeded"
    assert VISA not in body.decode()
    with pytest.raises(ValueError):
        verify(body, headers.get("rongpay-signature"), "whsec_someone_else")
    with pytest.raises(ValueError):
        verify(body.replace(b"succeeded", b"canceled"), headers.get("rongpay-signature"),
               endpoint["secret"])  # fmt: skip
    poll(lambda: deliveries(w, event["id"])[0]["status"] == "delivered", "delivered")
    # events of other types were not sent to this endpoint
    r = w.gw.post("/v1/refunds", {"payment_intent": pi["id"]})
    assert r.status_code == 200, r.text

    def refunded() -> list[dict[str, Any]] | None:
        nudge(w)
        got = [verify(b, h.get("rongpay-signature"), endpoint["secret"])
               for h, b in w.receiver.received()]  # fmt: skip
        return got if len(got) >= 2 else None

    types = [e["type"] for e in poll(refunded, "the refund's webhook")]
    assert sorted(set(types)) == ["charge.refunded", "payment_intent.succeeded"]


def test_receiver_failing_twice_gets_the_event_later(flaky: World) -> None:
    w = flaky
    endpoint = register(w, ["payment_intent.succeeded"])
    pi = w.gw.pay(VISA, 1500)
    event = succeeded_event(w, pi["id"])

    def attempted(n: int) -> dict[str, Any] | None:
        got = deliveries(w, event["id"])
        return got[0] if got and got[0]["attempts"] >= n else None

    if not w.receiver.received():
        nudge(w)
    first = poll(lambda: attempted(1), "the first attempt")
    assert (first["status"], first["last_status_code"]) == ("pending", 500)
    assert first["next_attempt_at"] > first["created"]
    nudge(w, first["next_attempt_at"] + 1)  # the clock moves on to the retry
    second = poll(lambda: attempted(2), "the second attempt")
    assert (second["status"], second["last_status_code"]) == ("pending", 503)
    assert second["next_attempt_at"] > first["next_attempt_at"]
    nudge(w, second["next_attempt_at"] + 1)
    third = poll(lambda: attempted(3), "the third attempt")
    assert (third["status"], third["last_status_code"]) == ("delivered", 200)
    assert [a["status_code"] for a in third["attempt_log"]] == [500, 503, 200]
    got = w.receiver.received()
    assert len(got) == 3
    for headers, body in got:
        sent = verify(body, headers.get("rongpay-signature"), endpoint["secret"])
        assert (sent["id"], sent["type"]) == (event["id"], "payment_intent.succeeded")
    nudge(w, third["created"] + 30 * 24 * 3600)
    assert len(w.receiver.received()) == 3  # delivered: never sent again
