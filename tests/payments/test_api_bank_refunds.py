"""Refunds of bank transfers end to end: the app served by uvicorn, the sandbox bank
(simulated) on a thread paying refunds out and calling back over real HTTP. Full, partial and
several refunds; over-refunds; a refund the bank cannot pay (the payer's account is closed)
gives the money back to the merchant; replayed and forged refund callbacks; a callback that
never comes (reconciled); the bank down when the refund is asked; idempotency keys; events.
The ledger is checked after each (the fixture's exit)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from rongpay.api.app import create_app
from rongpay.security.signing import sign

from .e2e_support import (
    ADMIN_KEY,
    BANK_SECRET,
    WAIT_S,
    Api,
    app_served,
    assert_error,
    assert_ledger_ok,
    bank_running,
    free_socket,
    issuer_running,
    new_merchant,
    poll,
    serving,
    set_env,
)
from .test_api_bank import World, decide, order_of, post_callback, start, wait_status


@pytest.fixture
def world(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from _world(db_url, monkeypatch)


@pytest.fixture
def held(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A bank that pays a refund out only when the test says so (`pay_out`)."""
    yield from _world(db_url, monkeypatch, refund_delay_s=None)


@pytest.fixture
def twice(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A bank that delivers every callback (orders' and refunds') twice."""
    yield from _world(db_url, monkeypatch, duplicate_rate=1.0)


def _world(db_url: str, monkeypatch: pytest.MonkeyPatch, **delivery: Any) -> Iterator[World]:
    sock = free_socket()
    app_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with issuer_running() as issuer, bank_running(**delivery) as bank_url:
        set_env(monkeypatch, issuer, bank_url=bank_url, base_url=app_url)
        with (
            app_served(db_url, sock),
            httpx.Client(base_url=app_url, timeout=WAIT_S) as client,
            httpx.Client(base_url=bank_url, timeout=WAIT_S,
                         headers={"Authorization": f"Bearer {BANK_SECRET}"}) as bank,
        ):  # fmt: skip
            yield World(new_merchant(client), app_url, bank, bank_url)
    assert_ledger_ok(db_url)


def paid(w: World, amount: int = 3000) -> dict[str, Any]:
    """A bank transfer the bank has confirmed."""
    pi = start(w, amount)
    decide(w, order_of(pi), approve=True)
    done = wait_status(w, pi["id"], "succeeded")
    done["order"] = order_of(pi)
    return done


def refund(w: World, intent: str, amount: int | None = None, **headers: str) -> Any:
    body: dict[str, Any] = {"payment_intent": intent}
    if amount is not None:
        body["amount"] = amount
    return w.gw.post("/v1/refunds", body, **headers)


def asked(w: World, intent: str, amount: int | None = None) -> dict[str, Any]:
    """A refund the bank took: 200, pending (or already settled: its callback is fast)."""
    r = refund(w, intent, amount)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["object"] == "refund" and body["id"].startswith("re_")
    assert body["status"] in ("pending", "succeeded", "failed"), body
    return body


def settled(w: World, refund_id: str, *statuses: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        for x in w.gw.get("/v1/refunds", limit=100).json()["data"]:
            if x["id"] == refund_id and x["status"] in statuses:
                return dict(x)
        return None

    return poll(probe, f"refund {refund_id} to become {statuses}")


def bank_refunds(w: World, order: str) -> list[dict[str, Any]]:
    """The order's refunds as the sandbox bank sees them."""
    got: list[dict[str, Any]] = w.bank.get(f"/orders/{order}").json()["refunds"]
    return got


def delivered(w: World, order: str, count: int) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        got = bank_refunds(w, order)
        done = [r for r in got if r["callback"]["state"] == "delivered"]
        return got if len(done) >= count else None

    return poll(probe, f"the bank to call back about {count} refund(s) of {order}")


def pay_out(w: World, order: str) -> dict[str, Any]:
    """The bank pays the order's pending refund out now (sandbox only)."""
    (pending,) = [r for r in bank_refunds(w, order) if r["status"] == "pending"]
    r = w.bank.post(f"/refunds/{pending['id']}/settle")
    assert r.status_code == 200, r.text
    got: dict[str, Any] = r.json()
    return got


def clearing_owed(w: World) -> int:
    """What the bank clearing account says the bank owes us (debits - credits posted)."""
    c = w.gw.account("T:clearing:bank:USD")
    return c["debits_posted"] - c["credits_posted"]


def refund_callback(refund: dict[str, Any], **changes: Any) -> bytes:
    body = {"type": "refund", "refund": refund["id"], "order": refund["order"],
            "reference": refund["reference"], "status": refund["status"],
            "failure_code": refund["failure_code"], "amount_minor": refund["amount_minor"],
            "currency": refund["currency"], "decided_at": refund["decided_at"]}  # fmt: skip
    return orjson.dumps({**body, **changes})


# -- full, partial, several ---------------------------------------------------------------------


def test_a_full_refund_is_booked_then_settled_by_the_banks_callback(held: World) -> None:
    w = held
    pi = paid(w)
    net = w.gw.net()
    assert clearing_owed(w) == 3000
    re = asked(w, pi["id"])
    assert re["status"] == "pending" and re["failure_reason"] is None
    assert (re["amount"], re["payment_intent"], re["charge"]) == (3000, pi["id"],
                                                                 pi["latest_charge"])  # fmt: skip
    # booked at once, as a card refund is: merchant -> bank clearing
    assert w.gw.intent(pi["id"])["amount_refunded"] == 3000
    assert w.gw.net() == net - 3000 and clearing_owed(w) == 0
    types = [e["type"] for e in w.gw.events()]
    assert "refund.created" in types and "refund.updated" not in types
    assert pay_out(w, pi["order"])["status"] == "succeeded"
    done = settled(w, re["id"], "succeeded")
    assert done["failure_reason"] is None
    (at_bank,) = delivered(w, pi["order"], 1)
    assert (at_bank["reference"], at_bank["amount_minor"], at_bank["status"]) == (
        re["id"], 3000, "succeeded")  # fmt: skip
    assert w.gw.net() == -pi["fee"] and clearing_owed(w) == 0  # the fee is not returned
    transfer = w.gw.admin_get(f"/v1/ledger/transfers/{re['id']}").json()
    assert (transfer["code"], transfer["amount"]) == ("pay_refund", 3000)
    types = [e["type"] for e in w.gw.events()]
    for kind in ("refund.created", "charge.refunded", "refund.updated", "charge.refund.updated"):
        assert types.count(kind) == 1, (kind, types)
    assert "refund.failed" not in types
    assert_error(refund(w, pi["id"]), 400, "charge_already_refunded")


def test_partial_and_several_refunds_up_to_the_amount_then_over_refunds_are_refused(
    world: World,
) -> None:
    w = world
    pi = paid(w, 5000)
    first = asked(w, pi["id"], 1000)
    second = asked(w, pi["id"], 1500)
    err = assert_error(refund(w, pi["id"], 2501), 400, "amount_too_large")
    assert err["param"] == "amount"
    rest = asked(w, pi["id"])  # the rest by default
    assert rest["amount"] == 2500
    for one in (first, second, rest):
        settled(w, one["id"], "succeeded")
    assert w.gw.intent(pi["id"])["amount_refunded"] == 5000
    assert_error(refund(w, pi["id"], 1), 400, "charge_already_refunded")
    at_bank = delivered(w, pi["order"], 3)
    assert sorted(r["amount_minor"] for r in at_bank) == [1000, 1500, 2500]
    assert {r["status"] for r in at_bank} == {"succeeded"}
    assert clearing_owed(w) == 0 and w.gw.net() == -pi["fee"]
    listed = w.gw.get("/v1/refunds", payment_intent=pi["id"]).json()["data"]
    assert [x["amount"] for x in listed] == [2500, 1500, 1000]


def test_a_waiting_or_failed_transfer_cannot_be_refunded(world: World) -> None:
    w = world
    pi = start(w)
    assert_error(refund(w, pi["id"]), 400, "payment_intent_unexpected_state")
    decide(w, order_of(pi), approve=False, failure_code="insufficient_funds")
    wait_status(w, pi["id"], "requires_payment_method")
    assert_error(refund(w, pi["id"]), 400, "payment_intent_unexpected_state")
    assert w.gw.get("/v1/refunds", payment_intent=pi["id"]).json()["data"] == []


# -- a refund the bank cannot pay -------------------------------------------------------------


def test_a_refund_to_a_closed_account_fails_and_the_money_goes_back_to_the_merchant(
    held: World,
) -> None:
    w = held
    pi = paid(w, 4000)
    net = w.gw.net()
    re = asked(w, pi["id"], 1200)
    assert re["status"] == "pending"
    assert w.gw.net() == net - 1200 and clearing_owed(w) == 2800  # booked
    r = w.bank.post(f"/orders/{pi['order']}/close_account")  # the payer closed the account
    assert r.status_code == 200, r.text
    assert pay_out(w, pi["order"])["failure_code"] == "account_closed"
    done = settled(w, re["id"], "failed")
    assert done["failure_reason"] == "account_closed"
    assert w.gw.intent(pi["id"])["amount_refunded"] == 0
    assert w.gw.net() == net and clearing_owed(w) == 4000
    booking = w.gw.admin_get(f"/v1/ledger/transfers/{re['id']}").json()
    reversal = w.gw.admin_get(f"/v1/ledger/transfers/{re['id']}:reversal").json()
    assert (booking["amount"], reversal["amount"]) == (1200, 1200)
    assert reversal["code"] == "pay_refund_reversal"
    assert reversal["credit_account_id"] == booking["debit_account_id"] == f"T:mb:{w.gw.id}:USD"
    types = [e["type"] for e in w.gw.events()]
    for kind in ("refund.created", "charge.refunded", "refund.failed", "charge.refund.updated"):
        assert types.count(kind) == 1, (kind, types)
    failed = next(e for e in w.gw.events("refund.failed"))["data"]["object"]
    assert (failed["id"], failed["status"]) == (re["id"], "failed")
    # the whole amount can still be refunded (it fails again at this bank, and is reversed)
    again = asked(w, pi["id"], 4000)
    pay_out(w, pi["order"])
    settled(w, again["id"], "failed")
    assert w.gw.net() == net and clearing_owed(w) == 4000


# -- callbacks ----------------------------------------------------------------------------------


def test_replayed_contradicting_and_forged_refund_callbacks_change_nothing(world: World) -> None:
    w = world
    pi = paid(w)
    re = asked(w, pi["id"], 1000)
    settled(w, re["id"], "succeeded")
    (at_bank,) = delivered(w, pi["order"], 1)
    net, owed = w.gw.net(), clearing_owed(w)
    body = refund_callback(at_bank)
    r = post_callback(w, body, sign([BANK_SECRET], body))
    assert r.status_code == 200, r.text
    assert r.json() == {"received": True, "duplicate": True, "payment_intent": pi["id"],
                        "refund": re["id"], "status": "succeeded"}  # fmt: skip
    contra = refund_callback(at_bank, status="failed", failure_code="account_closed")
    r = post_callback(w, contra, sign([BANK_SECRET], contra))
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    assert_error(post_callback(w, body, sign(["someone-else"], body)), 400, "invalid_signature")
    assert_error(post_callback(w, body, None), 400, "invalid_signature")
    bad = refund_callback(at_bank, failure_code="insufficient_funds", status="failed")
    assert_error(post_callback(w, bad, sign([BANK_SECRET], bad)), 400, "invalid_callback")
    other = refund_callback(at_bank, amount_minor=999)
    assert_error(post_callback(w, other, sign([BANK_SECRET], other)), 400, "callback_mismatch")
    other = refund_callback(at_bank, order="bo_" + "1" * 24)
    assert_error(post_callback(w, other, sign([BANK_SECRET], other)), 400, "callback_mismatch")
    unknown = refund_callback(at_bank, reference="re_nobody")
    assert_error(post_callback(w, unknown, sign([BANK_SECRET], unknown)), 404, "resource_missing")
    assert (w.gw.net(), clearing_owed(w)) == (net, owed)
    assert w.gw.intent(pi["id"])["amount_refunded"] == 1000
    assert len(w.gw.events("refund.updated")) == 1


def test_a_bank_that_calls_back_twice_settles_the_refund_once(twice: World) -> None:
    w = twice
    pi = paid(w, 2000)
    re = asked(w, pi["id"], 700)
    settled(w, re["id"], "succeeded")

    def duplicate() -> bool:
        (one,) = bank_refunds(w, pi["order"])
        return any(a["duplicate"] and a["status_code"] == 200 for a in one["callback"]["attempts"])

    poll(duplicate, "the bank's duplicate refund callback")
    assert w.gw.net() == 2000 - pi["fee"] - 700 and clearing_owed(w) == 1300
    assert len(w.gw.events("refund.updated")) == 1


def test_a_refund_whose_callback_never_came_is_reconciled(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, dead = free_socket(), free_socket()
    app_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(db_url, admin_key=ADMIN_KEY)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:
        with issuer_running() as issuer, bank_running(max_attempts=1) as bank_url:
            # callbacks go to a port nobody answers: the bank gives up after one try
            set_env(monkeypatch, issuer, bank_url=bank_url,
                    base_url=f"http://127.0.0.1:{dead.getsockname()[1]}")  # fmt: skip
            with (
                serving(app, sock),
                httpx.Client(base_url=app_url, timeout=WAIT_S) as client,
                httpx.Client(base_url=bank_url, timeout=WAIT_S,
                             headers={"Authorization": f"Bearer {BANK_SECRET}"}) as bank,
            ):  # fmt: skip
                w = World(new_merchant(client), app_url, bank, bank_url)
                pi = start(w, 2500)
                decide(w, order_of(pi), approve=True)
                r = client.post("/v1/bank/reconcile", json={"older_than_s": 0}, headers=admin)
                assert r.status_code == 200 and r.json()["changed"] == 1, r.text
                re = asked(w, pi["id"], 2500)
                assert re["status"] == "pending"  # no callback can reach the gateway

                def gave_up() -> bool:
                    got = bank_refunds(w, order_of(pi))
                    return bool(got) and got[0]["callback"]["state"] == "gave_up"

                poll(gave_up, "the bank to give up calling back")
                assert settled(w, re["id"], "pending")["status"] == "pending"
                r = client.post("/v1/bank/reconcile", json={"older_than_s": 0}, headers=admin)
                assert r.status_code == 200 and r.json()["changed"] == 1, r.text
                assert settled(w, re["id"], "succeeded")["failure_reason"] is None
                r = client.post("/v1/bank/reconcile", json={"older_than_s": 0}, headers=admin)
                assert r.status_code == 200 and r.json()["changed"] == 0, r.text
                assert clearing_owed(w) == 0
    finally:
        dead.close()
    assert_ledger_ok(db_url)


# -- the bank out of reach, idempotency ------------------------------------------------------


def test_a_bank_down_at_refund_time_is_503_and_nothing_is_booked(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = free_socket()
    app_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with contextlib.ExitStack() as stack:
        issuer = stack.enter_context(issuer_running())
        bank_ctx = bank_running()
        bank_url = bank_ctx.__enter__()
        set_env(monkeypatch, issuer, bank_url=bank_url, base_url=app_url)
        stack.enter_context(app_served(db_url, sock))
        client = stack.enter_context(httpx.Client(base_url=app_url, timeout=WAIT_S))
        bank = stack.enter_context(httpx.Client(
            base_url=bank_url, timeout=WAIT_S, headers={"Authorization": f"Bearer {BANK_SECRET}"}
        ))  # fmt: skip
        w = World(new_merchant(client), app_url, bank, bank_url)
        pi = paid(w, 1800)
        net = w.gw.net()
        bank_ctx.__exit__(None, None, None)  # the bank goes away: connections are refused
        key = {"Idempotency-Key": "refund-while-the-bank-is-down"}
        for _ in range(2):  # the key is not kept for a refusal that changed nothing
            err = assert_error(refund(w, pi["id"], 500, **key), 503, "bank_unavailable")
            assert err["type"] == "api_error"
        assert w.gw.intent(pi["id"])["amount_refunded"] == 0
        assert w.gw.get("/v1/refunds", payment_intent=pi["id"]).json()["data"] == []
        assert (w.gw.net(), clearing_owed(w)) == (net, 1800)
        assert [e for e in w.gw.events() if e["type"].startswith(("refund.", "charge.ref"))] == []
    assert_ledger_ok(db_url)


def test_no_bank_configured_is_503_for_a_refund(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a bank transfer paid while the bank was connected, refunded after it was unplugged
    sock = free_socket()
    app_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with issuer_running() as issuer:
        with bank_running() as bank_url:
            set_env(monkeypatch, issuer, bank_url=bank_url, base_url=app_url)
            with (
                app_served(db_url, sock),
                httpx.Client(base_url=app_url, timeout=WAIT_S) as client,
                httpx.Client(base_url=bank_url, timeout=WAIT_S,
                             headers={"Authorization": f"Bearer {BANK_SECRET}"}) as bank,
            ):  # fmt: skip
                w = World(new_merchant(client), app_url, bank, bank_url)
                pi = paid(w, 1000)
        set_env(monkeypatch, issuer)  # no RONGPAY_BANK_URL any more
        sock = free_socket()
        with (
            app_served(db_url, sock),
            httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
                         timeout=WAIT_S) as client,
        ):  # fmt: skip
            gw = Api(client, w.gw.merchant, w.gw.key)
            r = gw.post("/v1/refunds", {"payment_intent": pi["id"]})
            assert_error(r, 503, "bank_unavailable")
            assert gw.intent(pi["id"])["amount_refunded"] == 0
    assert_ledger_ok(db_url)


def test_an_idempotency_key_refunds_once(world: World) -> None:
    w = world
    pi = paid(w, 2000)
    key = {"Idempotency-Key": "bank-refund-once"}
    first = refund(w, pi["id"], 600, **key)
    assert first.status_code == 200, first.text
    again = refund(w, pi["id"], 600, **key)
    assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert_error(refund(w, pi["id"], 700, **key), 400, "idempotency_error")
    settled(w, first.json()["id"], "succeeded")
    assert w.gw.intent(pi["id"])["amount_refunded"] == 600
    assert len(w.gw.get("/v1/refunds", payment_intent=pi["id"]).json()["data"]) == 1
    assert [r["amount_minor"] for r in delivered(w, pi["order"], 1)] == [600]
    assert clearing_owed(w) == 1400


def test_concurrent_refunds_never_exceed_the_amount(world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    w = world
    pi = paid(w, 1000)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: refund(w, pi["id"], 300), range(8)))
    ok = [r for r in answers if r.status_code == 200]
    for r in answers:
        if r.status_code != 200:
            assert_error(r, 400, "amount_too_large")
    assert len(ok) == 3  # 3 x 300 fit in 1000; a fourth would not
    for r in ok:
        settled(w, r.json()["id"], "succeeded")
    assert w.gw.intent(pi["id"])["amount_refunded"] == 900
    assert sorted(r["amount_minor"] for r in delivered(w, pi["order"], 3)) == [300] * 3
    assert clearing_owed(w) == 100


# -- an answer lost on the way back -------------------------------------------------------------


class LossyLine:
    """An ASGI hop between the gateway and the sandbox bank: every request is forwarded; while
    `lose` is set, a refund instruction reaches the bank but its answer is replaced by a 502
    (the gateway cannot know whether the bank took it)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.lose = True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k != b"host"}
        async with httpx.AsyncClient(base_url=self.target, timeout=WAIT_S) as client:
            answer = await client.request(scope["method"], scope["path"], content=body,
                                          headers=headers)  # fmt: skip
        status, content = answer.status_code, answer.content
        if self.lose and scope["method"] == "POST" and scope["path"].endswith("/refunds"):
            status, content = 502, b"bad gateway"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(content)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": content})


def test_a_refund_whose_answer_was_lost_is_booked_and_sent_again_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, hop = free_socket(), free_socket()
    app_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with issuer_running() as issuer, bank_running(refund_delay_s=None) as bank_url:
        line = LossyLine(bank_url)
        with serving(line, hop) as line_url:
            set_env(monkeypatch, issuer, bank_url=line_url, base_url=app_url)
            with (
                app_served(db_url, sock),
                httpx.Client(base_url=app_url, timeout=WAIT_S) as client,
                httpx.Client(base_url=bank_url, timeout=WAIT_S,
                             headers={"Authorization": f"Bearer {BANK_SECRET}"}) as bank,
            ):  # fmt: skip
                w = World(new_merchant(client), app_url, bank, bank_url)
                pi = paid(w, 2000)
                net = w.gw.net()
                re = asked(w, pi["id"], 800)
                # the bank may be paying it: booked and pending, not refused
                assert re["status"] == "pending"
                assert w.gw.net() == net - 800 and clearing_owed(w) == 1200
                assert len(bank_refunds(w, pi["order"])) == 1  # it did reach the bank
                reconcile = {"older_than_s": 0}
                r = client.post("/v1/bank/reconcile", json=reconcile, headers=admin)
                assert r.status_code == 200 and r.json()["changed"] == 0, r.text  # lost again
                line.lose = False
                r = client.post("/v1/bank/reconcile", json=reconcile, headers=admin)
                assert r.status_code == 200 and r.json()["changed"] == 1, r.text
                (at_bank,) = bank_refunds(w, pi["order"])  # sent again: still one refund
                assert (at_bank["reference"], at_bank["amount_minor"]) == (re["id"], 800)
                pay_out(w, pi["order"])
                assert settled(w, re["id"], "succeeded")["amount"] == 800
                assert w.gw.net() == net - 800 and clearing_owed(w) == 1200
                assert len(w.gw.events("refund.created")) == 1
    assert_ledger_ok(db_url)
