"""A card attempt a crash cut short between its two commits is reversed at the issuer (the
sandbox issuer, real TCP) and failed by the upkeep sweep's recovery, its idempotency key
answered with that failure; reversal advices the issuer never acknowledged survive a restart.

The crash is simulated three ways: a card network that raises right after the issuer's answer
came (commit 2 never runs, nothing else reacts), one that raises before anything is sent, and
a real `kill -9` of a server process while the issuer holds its answer."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from rongpay.api.app import create_app
from rongpay.api.payments import respond_intent
from rongpay.ledger import check
from rongpay.ledger.store import Sql
from rongpay.payments import idempotency, store
from rongpay.payments.card_recovery import CardAdvices
from rongpay.payments.channels.card import CardNetwork, CardOutcome, CardResult
from rongpay.payments.errors import PaymentError
from rongpay.payments.gateway import Client, Gateway
from rongpay.payments.idempotency import Idem, fingerprint
from rongpay.payments.types import Caller
from rongpay.payments.upkeep import STUCK_AFTER_S, recover_stuck
from rongpay.security.cards import CardDetails
from rongpay.security.vault import Vault
from rongpay.sim.issuer import IssuerConfig
from rongpay.store.uow import unit_of_work
from rongpay.wire.iso8583 import Message

from .e2e_support import CARD_DEFAULTS, VISA, Issuer, card, poll
from .factories import merchant

ROOT = Path(__file__).resolve().parents[2]
USD = "USD"
AMOUNT = 2500
ADMIN_KEY = "rk_admin_card_recovery_0123456789"


class Crash(Exception):
    """The process dies here (nothing after this point runs)."""


class CrashAfterAnswer(CardNetwork):
    """The request goes out and the issuer answers; then the process dies before commit 2."""

    sent: CardResult | None = None

    async def send(self, msg: Message, card: CardDetails, reference: str) -> CardResult:
        self.sent = await super().send(msg, card, reference)
        raise Crash


class CrashBeforeSend(CardNetwork):
    """Commit 1 is done, then the process dies before the request is written."""

    async def send(self, msg: Message, card: CardDetails, reference: str) -> CardResult:
        raise Crash


@pytest.fixture
def key() -> bytes:
    return secrets.token_bytes(32)


def _body(capture: str = "automatic") -> dict[str, Any]:
    return {"amount": AMOUNT, "currency": "usd", "confirm": True, "capture_method": capture,
            "payment_method_data": card(VISA)}  # fmt: skip


def _idem(merchant_id: str, body: dict[str, Any], name: str = "order-1") -> Idem:
    """The key as the API makes it for POST /v1/payment_intents (and answers with)."""
    return Idem(merchant_id, False, name, fingerprint("POST", "/v1/payment_intents", body),
                respond_intent)  # fmt: skip


def _crash(engine: Engine, key: bytes, port: int, network: type[CardNetwork], m: str,
           body: dict[str, Any], idem: Idem) -> CardNetwork:  # fmt: skip
    """Run the confirmation until the simulated crash; the network it crashed in."""

    async def go() -> CardNetwork:
        net = network("127.0.0.1", port, timeout_s=2.0, advices=CardAdvices(engine, Vault([key])))
        await net.start()
        gw = Gateway(engine, vault=Vault([key]), card=net)
        try:
            with pytest.raises(Crash):
                await gw.create(Caller(m, False), body, idem=idem, client=Client())
        finally:
            await net.close()
        return net

    return asyncio.run(go())


def _recover(engine: Engine, key: bytes, port: int, now: float) -> int:
    """A sweep of a new gateway process (new connector, new vault object, same key)."""

    async def go() -> int:
        vault = Vault([key])
        net = CardNetwork("127.0.0.1", port, timeout_s=1.0, advices=CardAdvices(engine, vault))
        await net.start()
        try:
            return await recover_stuck(Gateway(engine, vault=vault, card=net), now=int(now),
                                       respond=respond_intent)  # fmt: skip
        finally:
            await net.close()

    return asyncio.run(go())


def _only_intent(engine: Engine, m: str) -> dict[str, Any]:
    t = store.intents.c
    with unit_of_work(engine, write=False) as conn:
        (row,) = conn.execute(sa.select(store.intents).where(t.merchant_id == m)).all()
    out = dict(row._mapping)
    out["last_payment_error"] = orjson.loads(out["last_payment_error"] or "null")
    return out


def _charge(engine: Engine, charge_id: str) -> dict[str, Any]:
    with unit_of_work(engine, write=False) as conn:
        row = conn.execute(sa.select(store.charges).where(store.charges.c.id == charge_id)).one()
    return dict(row._mapping)


def _stored_answer(engine: Engine, idem: Idem) -> idempotency.Stored | None:
    with unit_of_work(engine, write=False) as conn:
        return idempotency.lookup(Sql(conn), idem)


def _assert_failed_and_answered(engine: Engine, m: str, idem: Idem) -> None:
    intent = _only_intent(engine, m)
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["code"] == "processing_error"
    assert _charge(engine, intent["latest_charge"])["status"] == "failed"
    stored = _stored_answer(engine, idem)
    assert stored is not None and stored.status == 402
    answer = orjson.loads(stored.body)["error"]
    assert answer["code"] == "processing_error"
    assert answer["payment_intent"]["id"] == intent["id"]
    assert answer["payment_intent"]["status"] == "requires_payment_method"
    assert check.check(engine).ok


@pytest.mark.parametrize("capture", ["automatic", "manual"])
def test_an_answered_request_whose_second_commit_never_ran_is_reversed(
    engine: Engine, issuer: Issuer, key: bytes, capture: str
) -> None:
    m = merchant(engine)
    body = _body(capture)
    idem = _idem(m, body)
    start = issuer.balances(VISA, USD)
    net = _crash(engine, key, issuer.port, CrashAfterAnswer, m, body, idem)
    assert isinstance(net, CrashAfterAnswer) and net.sent is not None
    assert net.sent.outcome is CardOutcome.APPROVED
    taken = (start[0] - AMOUNT, start[1] - AMOUNT) if capture == "automatic" else (
        start[0], start[1] - AMOUNT)  # fmt: skip
    assert issuer.balances(VISA, USD) == taken  # charged (or held) at the issuer, not booked
    assert _only_intent(engine, m)["status"] == "processing"
    with pytest.raises(PaymentError) as in_use:
        _stored_answer(engine, idem)
    assert in_use.value.code == "idempotency_key_in_use"

    assert _recover(engine, key, issuer.port, time.time()) == 0  # not stuck yet
    assert _only_intent(engine, m)["status"] == "processing"
    assert issuer.balances(VISA, USD) == taken

    assert _recover(engine, key, issuer.port, time.time() + STUCK_AFTER_S + 1) == 1
    assert issuer.balances(VISA, USD) == start
    _assert_failed_and_answered(engine, m, idem)
    assert _recover(engine, key, issuer.port, time.time() + STUCK_AFTER_S + 1) == 0
    assert issuer.balances(VISA, USD) == start


def test_a_request_that_never_left_is_failed_with_nothing_to_reverse(
    engine: Engine, issuer: Issuer, key: bytes
) -> None:
    m = merchant(engine)
    body = _body()
    idem = _idem(m, body)
    start = issuer.balances(VISA, USD)
    _crash(engine, key, issuer.port, CrashBeforeSend, m, body, idem)
    assert _only_intent(engine, m)["status"] == "processing"
    assert _recover(engine, key, issuer.port, time.time() + STUCK_AFTER_S + 1) == 1
    assert issuer.balances(VISA, USD) == start
    _assert_failed_and_answered(engine, m, idem)


def test_a_late_second_commit_after_recovery_is_refused_and_reversed(
    engine: Engine, issuer: Issuer, key: bytes
) -> None:
    """The original process was only slow: its commit 2 comes after the recovery reversed the
    attempt. It must not book the payment (the issuer gave the money back)."""
    m = merchant(engine)
    body = _body()
    start = issuer.balances(VISA, USD)
    go_on = threading.Event()
    recovered = threading.Event()
    outcome: list[Any] = []

    class Slow(CardNetwork):
        async def send(self, msg: Message, card: CardDetails, reference: str) -> CardResult:
            result = await super().send(msg, card, reference)
            go_on.set()
            await asyncio.to_thread(recovered.wait, 30)
            return result

    async def slow_payment() -> None:
        net = Slow("127.0.0.1", issuer.port, timeout_s=2.0)
        await net.start()
        gw = Gateway(engine, vault=Vault([key]), card=net)
        try:
            await gw.create(Caller(m, False), body, idem=None, client=Client())
        except PaymentError as exc:
            outcome.append(exc.code)
        finally:
            await net.close()

    thread = threading.Thread(target=asyncio.run, args=(slow_payment(),))
    thread.start()
    assert go_on.wait(30)
    assert _recover(engine, key, issuer.port, time.time() + STUCK_AFTER_S + 1) == 1
    recovered.set()
    thread.join(30)
    assert outcome == ["payment_intent_unexpected_state"]
    assert _only_intent(engine, m)["status"] == "requires_payment_method"
    assert issuer.balances(VISA, USD) == start
    assert check.check(engine).ok


def test_an_unreachable_issuer_leaves_the_attempts_for_a_later_sweep(
    engine: Engine, issuer: Issuer, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    start = issuer.balances(VISA, USD)
    shops = [merchant(engine), merchant(engine)]
    keys = []
    for m in shops:  # two attempts cut short, each charged at the issuer
        body = _body()
        keys.append(_idem(m, body))
        _crash(engine, key, issuer.port, CrashAfterAnswer, m, body, keys[-1])
    charged = (start[0] - 2 * AMOUNT, start[1] - 2 * AMOUNT)
    assert issuer.balances(VISA, USD) == charged
    issuer.call(issuer.server.close())  # the issuer goes away (its books stay)
    later = time.time() + STUCK_AFTER_S + 1
    with caplog.at_level(logging.WARNING, logger="rongpay.payments.recovery"):
        assert _recover(engine, key, issuer.port, later) == 0
    assert "cannot be reached" in caplog.text and "next sweep" in caplog.text
    for m, idem in zip(shops, keys, strict=True):
        assert _only_intent(engine, m)["status"] == "processing"
        with pytest.raises(PaymentError):  # still in flight for the merchant: 409
            _stored_answer(engine, idem)
    assert issuer.balances(VISA, USD) == charged

    issuer.call(issuer.server.start("127.0.0.1", issuer.port))  # back
    assert _recover(engine, key, issuer.port, later) == 2
    assert issuer.balances(VISA, USD) == start
    for m, idem in zip(shops, keys, strict=True):
        _assert_failed_and_answered(engine, m, idem)


def test_a_screening_hold_is_not_a_stuck_attempt(engine: Engine, issuer: Issuer,
                                                 key: bytes) -> None:  # fmt: skip
    m = merchant(engine)
    body = _body()
    body["payment_method_data"]["billing_details"] = {
        "name": "Vladimir Putin",
        "address": {"country": "RU"},
    }
    intent = asyncio.run(_create(engine, key, issuer.port, m, body)).intent
    assert intent.status == "processing"
    assert (intent.risk or {}).get("screening", {}).get("decision") == "hold"
    assert _recover(engine, key, issuer.port, time.time() + STUCK_AFTER_S + 1) == 0
    assert _only_intent(engine, m)["status"] == "processing"


async def _create(engine: Engine, key: bytes, port: int, m: str, body: dict[str, Any]) -> Any:
    net = CardNetwork("127.0.0.1", port, timeout_s=2.0)
    await net.start()
    try:
        return await Gateway(engine, vault=Vault([key]), card=net).create(
            Caller(m, False), body, idem=None, client=Client()
        )
    finally:
        await net.close()


def _advices(engine: Engine) -> list[dict[str, Any]]:
    with unit_of_work(engine, write=False) as conn:
        rows = conn.execute(sa.select(store.card_advices).order_by(store.card_advices.c.seq))
        return [dict(r._mapping) for r in rows]


def test_a_stored_reversal_advice_survives_a_restart_and_is_delivered(
    engine: Engine, key: bytes
) -> None:
    lossy = Issuer(IssuerConfig(latency_ms=0.0, drop_rate=1.0, seed=5))
    lossy.start()
    try:
        start = lossy.balances(VISA, USD)
        details = CardDetails(VISA, 12, 2034, "123")

        async def unreversed() -> int:  # taken by the issuer, answer and reversal lost
            txns = lossy.server.book.by_rrn.values()
            return sum(1 for t in txns if t.pan == VISA and not t.reversed)

        async def pay_into_the_void() -> list[CardResult]:
            net = CardNetwork("127.0.0.1", lossy.port, timeout_s=0.1,
                              advices=CardAdvices(engine, Vault([key])))  # fmt: skip
            await net.start()
            results: list[CardResult] = []
            try:
                for i in range(20):  # until the issuer kept one (the seed decides which)
                    results.append(await net.authorize(
                        details, amount_minor=700, currency=USD, merchant_id="m_1", mcc="5999",
                        entry_mode="ecommerce", authenticated=False, reference=f"pi_{i}",
                        capture=True,
                    ))  # fmt: skip
                    if await asyncio.to_thread(lossy.call, unreversed()):
                        break
                return results
            finally:
                assert net.queued_reversals == 0  # in the database, not in memory
                await net.close()  # the process goes away

        results = asyncio.run(pay_into_the_void())
        n = len(results)
        assert all(r.outcome is CardOutcome.TIMEOUT for r in results)
        assert all(r.reversal_sent and not r.reversal_acknowledged for r in results)
        stored = _advices(engine)
        assert [a["status"] for a in stored] == ["queued"] * n
        assert all(VISA not in a["message"] and '"2"' not in a["message"] for a in stored)
        assert lossy.call(unreversed()) >= 1
        assert lossy.balances(VISA, USD)[0] < start[0]  # charged, and only an advice undoes it

        async def flush(new_key_holder: Vault) -> int:
            net = CardNetwork("127.0.0.1", lossy.port, timeout_s=0.5,
                              advices=CardAdvices(engine, new_key_holder))  # fmt: skip
            await net.start()
            try:
                return await net.flush_advices()
            finally:
                await net.close()

        assert asyncio.run(flush(Vault([key]))) == 0  # still lossy: tried, not acknowledged
        assert [a["tries"] for a in _advices(engine)] == [1] * n
        lossy.server.config = IssuerConfig(latency_ms=0.0)  # the network heals
        assert asyncio.run(flush(Vault([key]))) == n  # a new process sends them
        assert [a["status"] for a in _advices(engine)] == ["acknowledged"] * n
        assert lossy.balances(VISA, USD) == start
        assert lossy.call(unreversed()) == 0
        assert asyncio.run(flush(Vault([key]))) == 0
    finally:
        lossy.stop()


# -- a real kill -9 ----------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_kill_9_while_the_issuer_holds_the_answer_then_recovery_reverses(
    db_url: str, engine: Engine, key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = Issuer(IssuerConfig(latency_ms=60_000.0, jitter=0.0, seed=3))  # answers a minute late
    slow.start()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RONGPAY_")}
    env.update(RONGPAY_ISSUER=f"127.0.0.1:{slow.port}", RONGPAY_ADMIN_KEY=ADMIN_KEY,
               RONGPAY_VAULT_KEY=base64.b64encode(key).decode())  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "rongpay", "serve", "--db", db_url, "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        poll(lambda: _healthy(base), "the server to start", timeout_s=120)
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        made = httpx.post(f"{base}/v1/merchants", headers=admin, timeout=30, json={
            "name": "Tea House", "country": "US", "default_currency": "usd"}).json()  # fmt: skip
        headers = {"Authorization": f"Bearer {made['secret_key']}", "Idempotency-Key": "k-9"}
        body = {"amount": AMOUNT, "currency": "usd", "confirm": True,
                "payment_method_data": {"type": "card", "card": {"number": VISA,
                                                                 **CARD_DEFAULTS}}}  # fmt: skip
        start = slow.balances(VISA, USD)
        paying = threading.Thread(target=_post_quietly, daemon=True,
                                  args=(f"{base}/v1/payment_intents", headers, body))  # fmt: skip
        paying.start()
        poll(lambda: slow.balances(VISA, USD) != start, "the issuer to take the money")
        os.kill(server.pid, signal.SIGKILL)  # before the connector's 5 s timeout could reverse
        server.wait(30)
        paying.join(30)
        assert slow.balances(VISA, USD)[0] == start[0] - AMOUNT  # charged, never booked
        engine.dispose()
        assert _only_intent(engine, made["id"])["status"] == "processing"

        slow.server.config = IssuerConfig(latency_ms=1.0, jitter=0.0)  # answers promptly again
        assert _recover(engine, key, slow.port, time.time() + STUCK_AFTER_S + 1) == 1
        assert slow.balances(VISA, USD) == start
        assert check.check(engine).ok

        # the merchant retries with its key against a restarted server: the stored failure
        monkeypatch.setenv("RONGPAY_ISSUER", f"127.0.0.1:{slow.port}")
        monkeypatch.setenv("RONGPAY_VAULT_KEY", base64.b64encode(key).decode())
        with TestClient(create_app(db_url, admin_key=ADMIN_KEY)) as client:
            retry = client.post("/v1/payment_intents", json=body, headers=headers)
        assert retry.status_code == 402, retry.text
        assert retry.headers.get("idempotent-replayed") == "true"
        assert retry.json()["error"]["code"] == "processing_error"
        assert retry.json()["error"]["payment_intent"]["status"] == "requires_payment_method"
        assert slow.balances(VISA, USD) == start
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
        slow.stop()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _post_quietly(url: str, headers: dict[str, str], body: dict[str, Any]) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
        httpx.post(url, headers=headers, json=body, timeout=60)


def test_the_migration_creates_the_recovery_tables_as_described(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from rongpay.store.metadata import metadata

    ours = {store.card_requests.name, store.card_advices.name}
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if any(name in repr(d) for name in ours)] == []
    tables = set(sa.inspect(engine).get_table_names())
    assert ours <= tables
