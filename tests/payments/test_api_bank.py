"""Bank transfers end to end: the app served by uvicorn on a free port, the sandbox bank
(simulated) on a thread calling it back over real HTTP. Confirm -> redirect to the bank's
page -> the customer decides there -> the bank's signed callback -> succeeded or failed;
tampered, replayed and contradicting callbacks; the return page; the limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

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

BANK = {"type": "bank_transfer"}


@dataclass
class World:
    gw: Api  # the merchant, talking to the served app
    app_url: str
    bank: httpx.Client  # the gateway's credentials at the sandbox bank (tests decide orders)
    bank_url: str


def world_fixture(db_url: str, monkeypatch: pytest.MonkeyPatch, **delivery: Any) -> Iterator[World]:
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


@pytest.fixture
def world(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from world_fixture(db_url, monkeypatch)


@pytest.fixture
def one_order(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A bank with room for one order only: a second order at the bank is 503."""
    yield from world_fixture(db_url, monkeypatch, max_orders=1)


@pytest.fixture
def twice(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A bank that delivers every callback twice."""
    yield from world_fixture(db_url, monkeypatch, duplicate_rate=1.0)


def start(w: World, amount: int = 1500, **extra: Any) -> dict[str, Any]:
    body = {"amount": amount, "currency": "usd", "confirm": True,
            "payment_method_data": BANK, "description": "Order 42", **extra}  # fmt: skip
    r = w.gw.post("/v1/payment_intents", body)
    assert r.status_code == 200, r.text
    pi: dict[str, Any] = r.json()
    assert pi["status"] == "requires_action", pi
    return pi


def order_of(pi: dict[str, Any]) -> str:
    url = pi["next_action"]["redirect_to_url"]["url"]
    return str(url.rsplit("/", 1)[1])


def decide(w: World, order: str, approve: bool, failure_code: str | None = None) -> None:
    body = {"decision": "approve" if approve else "decline", "failure_code": failure_code}
    r = w.bank.post(f"/orders/{order}/decide", json=body)
    assert r.status_code == 200, r.text


def wait_status(w: World, intent_id: str, *statuses: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        pi = w.gw.intent(intent_id)
        return pi if pi["status"] in statuses else None

    return poll(probe, f"{intent_id} to become {statuses}")


def delivered(w: World, order: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        got: dict[str, Any] = w.bank.get(f"/orders/{order}").json()
        return got if got["callback"]["state"] == "delivered" else None

    return poll(probe, f"the bank to deliver {order}'s callback")


def callback(order: str, reference: str, status: str = "succeeded", amount: int = 1500,
             failure_code: str | None = None, currency: str = "USD") -> bytes:  # fmt: skip
    return orjson.dumps({
        "order": order, "reference": reference, "status": status, "failure_code": failure_code,
        "amount_minor": amount, "currency": currency, "decided_at": "2026-11-25T15:40:03Z",
    })  # fmt: skip


def post_callback(w: World, body: bytes, header: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Bank-Signature"] = header
    return w.gw.client.post("/v1/bank/callback", content=body, headers=headers)


# -- the happy path and the decline -------------------------------------------------------------


def test_approved_transfer_succeeds_through_the_callback(world: World) -> None:
    w = world
    pi = start(w)
    action = pi["next_action"]["redirect_to_url"]
    assert action["url"].startswith(f"{w.bank_url}/pay/bo_")
    assert action["return_url"] == f"{w.app_url}/checkout/return/{pi['id']}"
    assert pi["payment_method"]["type"] == "bank_transfer" and pi["latest_charge"]
    page = httpx.get(action["url"], timeout=WAIT_S)
    assert page.status_code == 200 and "Sandbox Bank" in page.text
    assert "15.00" in page.text and "Order 42" in page.text
    back = httpx.get(action["return_url"], timeout=WAIT_S)
    assert back.status_code == 200 and "Waiting for your bank" in back.text
    assert w.gw.intent(pi["id"])["status"] == "processing"
    assert w.gw.balance() == dict.fromkeys(w.gw.balance(), 0)
    decide(w, order_of(pi), approve=True)
    done = wait_status(w, pi["id"], "succeeded")
    assert (done["amount_received"], done["last_payment_error"]) == (1500, None)
    assert w.gw.net() == 1500 - done["fee"] and done["fee"] > 0
    clearing = w.gw.account("T:clearing:bank:USD")
    assert clearing["debits_posted"] - clearing["credits_posted"] == 1500
    delivered(w, order_of(pi))
    types = [e["type"] for e in w.gw.events()]
    assert {"payment_intent.requires_action", "payment_intent.processing",
            "payment_intent.succeeded", "charge.succeeded"} <= set(types)  # fmt: skip
    page = httpx.get(action["return_url"], timeout=WAIT_S)
    assert "Payment succeeded" in page.text


def test_declined_transfer_fails_then_a_second_attempt_succeeds(world: World) -> None:
    w = world
    pi = start(w)
    first = order_of(pi)
    decide(w, first, approve=False, failure_code="insufficient_funds")
    failed = wait_status(w, pi["id"], "requires_payment_method")
    err = failed["last_payment_error"]
    assert (err["code"], err["decline_code"]) == ("bank_declined", "insufficient_funds")
    assert failed["next_action"] is None and failed["amount_received"] == 0
    page = httpx.get(f"{w.app_url}/checkout/return/{pi['id']}", timeout=WAIT_S)
    assert page.status_code == 200 and "did not go through" in page.text
    assert "insufficient_funds" in page.text
    assert w.gw.net() == 0
    assert "payment_intent.payment_failed" in [e["type"] for e in w.gw.events()]
    r = w.gw.post(f"/v1/payment_intents/{pi['id']}/confirm", {"payment_method_data": BANK})
    assert r.status_code == 200 and r.json()["status"] == "requires_action", r.text
    second = order_of(r.json())
    assert second != first
    # the first order's outcome, replayed late, changes nothing
    late = callback(first, f"{pi['id']}:1", "failed", failure_code="insufficient_funds")
    r2 = post_callback(w, late, sign([BANK_SECRET], late))
    assert r2.status_code == 200 and r2.json()["duplicate"] is True, r2.text
    assert w.gw.intent(pi["id"])["status"] == "requires_action"
    decide(w, second, approve=True)
    assert wait_status(w, pi["id"], "succeeded")["amount_received"] == 1500


def test_a_bank_that_calls_twice_books_once(twice: World) -> None:
    w = twice
    pi = start(w, 2500)
    decide(w, order_of(pi), approve=True)
    done = wait_status(w, pi["id"], "succeeded")
    order = delivered(w, order_of(pi))

    def both() -> bool:
        tries = w.bank.get(f"/orders/{order['id']}").json()["callback"]["attempts"]
        return any(a["duplicate"] for a in tries)

    poll(both, "the bank's duplicate callback")
    assert w.gw.net() == 2500 - done["fee"]
    succeeded = [e for e in w.gw.events() if e["type"] == "payment_intent.succeeded"]
    assert len(succeeded) == 1


def test_the_banks_duplicate_callback_is_acknowledged(twice: World) -> None:
    w = twice
    pi = start(w, 2500)
    decide(w, order_of(pi), approve=True)
    wait_status(w, pi["id"], "succeeded")

    def duplicate() -> dict[str, Any] | None:
        tries = w.bank.get(f"/orders/{order_of(pi)}").json()["callback"]["attempts"]
        return next((a for a in tries if a["duplicate"]), None)

    assert poll(duplicate, "the bank's duplicate callback")["status_code"] == 200


# -- callbacks that must not be applied ---------------------------------------------------------


def test_tampered_and_foreign_callbacks_are_refused(world: World) -> None:
    w = world
    pi = start(w)
    order = order_of(pi)
    body = callback(order, f"{pi['id']}:1")
    good = sign([BANK_SECRET], body)
    for tampered, header in [
        (body.replace(b"1500", b"1"), good),  # the body changed after signing
        (body, sign(["someone-else"], body)),  # signed by another party
        (body, sign([BANK_SECRET], body, timestamp=int(time.time()) - 3600)),  # replayed late
        (body, "t=1,v1=abc"),
        (body, None),
    ]:
        assert_error(post_callback(w, tampered, header), 400, "invalid_signature")
    junk = b'{"order": 1}'
    assert_error(post_callback(w, junk, sign([BANK_SECRET], junk)), 400, "invalid_callback")
    unknown = callback("bo_" + "0" * 24, "pi_x:1")
    r = post_callback(w, unknown, sign([BANK_SECRET], unknown))
    assert_error(r, 404, "resource_missing")
    other = callback(order, f"{pi['id']}:1", amount=1499)
    assert_error(post_callback(w, other, sign([BANK_SECRET], other)), 400, "callback_mismatch")
    other = callback(order, f"{pi['id']}:1", currency="EUR")
    assert_error(post_callback(w, other, sign([BANK_SECRET], other)), 400, "callback_mismatch")
    after = w.gw.intent(pi["id"])
    assert after["status"] == "requires_action" and w.gw.net() == 0


def test_replayed_and_contradicting_callbacks_change_nothing(world: World) -> None:
    w = world
    pi = start(w)
    order = order_of(pi)
    decide(w, order, approve=True)
    done = wait_status(w, pi["id"], "succeeded")
    delivered(w, order)
    net = w.gw.net()
    again = callback(order, f"{pi['id']}:1")
    r = post_callback(w, again, sign([BANK_SECRET], again))
    assert r.status_code == 200, r.text
    assert r.json() == {"received": True, "duplicate": True, "payment_intent": pi["id"],
                        "status": "succeeded"}  # fmt: skip
    contra = callback(order, f"{pi['id']}:1", "failed", failure_code="account_closed")
    r = post_callback(w, contra, sign([BANK_SECRET], contra))
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    assert w.gw.intent(pi["id"]) == done
    assert w.gw.net() == net


# -- states and limits --------------------------------------------------------------------------


def test_manual_capture_is_refused(world: World) -> None:
    body = {"amount": 1500, "currency": "usd", "confirm": True, "capture_method": "manual",
            "payment_method_data": BANK}  # fmt: skip
    err = assert_error(world.gw.post("/v1/payment_intents", body), 400,
                       "capture_method_unsupported")  # fmt: skip
    assert err["param"] == "capture_method"


def test_a_waiting_transfer_can_be_canceled_and_late_money_goes_back(world: World) -> None:
    """Canceled while the bank decides: a later approval is booked and returned at once."""
    w = world
    pi = start(w)
    assert httpx.get(f"{w.app_url}/checkout/return/{pi['id']}", timeout=WAIT_S).status_code == 200
    r = w.gw.post(f"/v1/payment_intents/{pi['id']}/confirm", {"payment_method_data": BANK})
    assert_error(r, 400, "payment_intent_unexpected_state")
    r = w.gw.post(f"/v1/payment_intents/{pi['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "canceled", r.text
    decide(w, order_of(pi), approve=True)
    delivered(w, order_of(pi))
    refunds = w.gw.get("/v1/refunds", payment_intent=pi["id"]).json()["data"]
    assert [(x["amount"], x["status"]) for x in refunds] == [(1500, "succeeded")]
    assert w.gw.intent(pi["id"])["status"] == "canceled"


def test_money_approved_at_the_bank_after_cancel_is_not_lost(world: World) -> None:
    w = world
    pi = start(w)
    r = w.gw.post(f"/v1/payment_intents/{pi['id']}/cancel")
    assert r.status_code in (200, 400), r.text
    decide(w, order_of(pi), approve=True)
    delivered(w, order_of(pi))
    clearing = w.gw.account("T:clearing:bank:USD")
    assert clearing["debits_posted"] == 1500  # what the bank took is on our books
    final = w.gw.intent(pi["id"])
    refunds = w.gw.get("/v1/refunds", payment_intent=pi["id"]).json()["data"]
    returned = sum(x["amount"] for x in refunds if x["status"] == "succeeded")
    assert final["amount_received"] == 1500 or returned == 1500  # kept, or sent back
    again = callback(order_of(pi), f"{pi['id']}:1")
    r = post_callback(w, again, sign([BANK_SECRET], again))
    assert r.status_code == 200 and r.json()["duplicate"] is True, r.text
    assert w.gw.account("T:clearing:bank:USD") == clearing
    assert w.gw.intent(pi["id"]) == final


def test_no_bank_configured_is_503(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with issuer_running() as issuer:
        set_env(monkeypatch, issuer)
        monkeypatch.delenv("RONGPAY_BANK_URL", raising=False)
        with TestClient(create_app(db_url, admin_key=ADMIN_KEY)) as client:
            gw = new_merchant(client)
            body = {"amount": 1500, "currency": "usd", "confirm": True,
                    "payment_method_data": BANK}  # fmt: skip
            err = assert_error(gw.post("/v1/payment_intents", body), 503, "bank_unavailable")
            assert err["type"] == "api_error"
            r = gw.post("/v1/payment_intents", {"amount": 1500, "currency": "usd",
                                                "payment_method_data": BANK})  # fmt: skip
            assert r.status_code == 200 and r.json()["status"] == "requires_confirmation"
            pi = r.json()["id"]
            assert_error(gw.post(f"/v1/payment_intents/{pi}/confirm"), 503, "bank_unavailable")
            assert gw.intent(pi)["status"] == "requires_confirmation"
            raw = callback("bo_" + "0" * 24, "pi_x:1")
            r = client.post("/v1/bank/callback", content=raw,
                            headers={"Bank-Signature": sign([BANK_SECRET], raw)})  # fmt: skip
            assert_error(r, 503, "bank_unavailable")
    assert_ledger_ok(db_url)


def test_a_callback_naming_another_reference_is_refused(world: World) -> None:
    w = world
    pi = start(w)
    body = callback(order_of(pi), "pi_someone_else:1")
    assert_error(post_callback(w, body, sign([BANK_SECRET], body)), 400, "callback_mismatch")
    assert w.gw.intent(pi["id"])["status"] == "requires_action"


def test_refund_of_a_bank_transfer(world: World) -> None:
    """Booked at once (merchant -> bank clearing), pending until the bank's callback; the
    rest of the refund cases are in test_api_bank_refunds.py."""
    w = world
    pi = start(w, 3000)
    decide(w, order_of(pi), approve=True)
    done = wait_status(w, pi["id"], "succeeded")
    r = w.gw.post("/v1/refunds", {"payment_intent": pi["id"], "amount": 1000})
    assert r.status_code == 200 and r.json()["status"] in ("pending", "succeeded"), r.text
    assert w.gw.intent(pi["id"])["amount_refunded"] == 1000
    clearing = w.gw.account("T:clearing:bank:USD")
    assert clearing["debits_posted"] - clearing["credits_posted"] == 2000
    assert w.gw.net() == 3000 - done["fee"] - 1000
    poll(lambda: w.gw.get("/v1/refunds", payment_intent=pi["id"]).json()["data"][0]["status"]
         == "succeeded", "the bank's refund callback")  # fmt: skip


def test_a_bank_that_does_not_answer_is_503(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = free_socket()  # bound, never listening: connections are refused
    try:
        with issuer_running() as issuer:
            set_env(monkeypatch, issuer, bank_url=f"http://127.0.0.1:{dead.getsockname()[1]}")
            with TestClient(create_app(db_url, admin_key=ADMIN_KEY)) as client:
                gw = new_merchant(client)
                r = gw.post("/v1/payment_intents", {"amount": 1500, "currency": "usd",
                                                    "payment_method_data": BANK})  # fmt: skip
                pi = r.json()["id"]
                err = assert_error(gw.post(f"/v1/payment_intents/{pi}/confirm"), 503,
                                   "bank_unavailable")  # fmt: skip
                assert err["type"] == "api_error"
                after = gw.intent(pi)
                assert (after["status"], after["latest_charge"]) == ("requires_confirmation", None)
    finally:
        dead.close()
    assert_ledger_ok(db_url)


def test_a_transfer_whose_callback_never_came_is_reconciled(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, dead = free_socket(), free_socket()
    app_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(db_url, admin_key=ADMIN_KEY)
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
                pi = start(w)
                assert client.get(f"/checkout/return/{pi['id']}").status_code == 200
                decide(w, order_of(pi), approve=True)
                poll(lambda: bank.get(f"/orders/{order_of(pi)}").json()["callback"]["state"]
                     == "gave_up", "the bank to give up")  # fmt: skip
                assert w.gw.intent(pi["id"])["status"] == "processing"
                r = client.post("/v1/bank/reconcile", json={"older_than_s": 0},
                                headers={"Authorization": f"Bearer {ADMIN_KEY}"})  # fmt: skip
                assert r.status_code == 200 and r.json()["changed"] == 1, r.text
                assert w.gw.intent(pi["id"])["status"] == "succeeded"
    finally:
        dead.close()
    assert_ledger_ok(db_url)


def test_an_idempotent_replay_does_not_order_again_at_the_bank(one_order: World) -> None:
    w = one_order
    body = {"amount": 1500, "currency": "usd", "confirm": True, "payment_method_data": BANK}
    key = {"Idempotency-Key": "bank-order-once"}
    first = w.gw.post("/v1/payment_intents", body, **key)
    assert first.status_code == 200, first.text
    again = w.gw.post("/v1/payment_intents", body, **key)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()


def test_a_long_description_still_reaches_the_bank(world: World) -> None:
    w = world
    body = {"amount": 1500, "currency": "usd", "confirm": True, "payment_method_data": BANK,
            "description": "Order 42: " + "green tea, " * 40}  # fmt: skip
    r = w.gw.post("/v1/payment_intents", body)
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        assert r.json()["status"] == "requires_action"


def test_the_shops_return_url_is_checked_and_kept(world: World) -> None:
    w = world
    for bad in (42, "javascript:alert(1)", "not a url"):
        body = {"amount": 1500, "currency": "usd", "payment_method_data": BANK,
                "return_url": bad}  # fmt: skip
        assert_error(w.gw.post("/v1/payment_intents", body), 400, "parameter_invalid")
    shop = "https://shop.example/orders/42"
    pi = start(w, return_url=shop)
    decide(w, order_of(pi), approve=True)
    wait_status(w, pi["id"], "succeeded")
    page = httpx.get(f"{w.app_url}/checkout/return/{pi['id']}", timeout=WAIT_S)
    assert shop in page.text or page.headers.get("location") == shop


def test_a_double_click_on_confirm_still_completes(world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    w = world
    r = w.gw.post("/v1/payment_intents", {"amount": 1500, "currency": "usd",
                                          "payment_method_data": BANK})  # fmt: skip
    pi = r.json()["id"]
    path = f"/v1/payment_intents/{pi}/confirm"
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: w.gw.post(path), range(4)))
    done = [a for a in answers if a.status_code == 200]
    assert done, [a.text for a in answers]
    for a in answers:
        if a.status_code != 200:
            assert a.status_code in (400, 409), a.text
    order = order_of(w.gw.intent(pi))
    assert len({order_of(a.json()) for a in done}) == 1  # the bank made one order
    decide(w, order, approve=True)
    delivered(w, order)  # answered 2xx: the outcome is recorded
    final = w.gw.intent(pi)
    assert (final["status"], final["amount_received"]) == ("succeeded", 1500), final


def test_an_endless_unsigned_callback_is_cut_off(world: World) -> None:
    chunk = b"x" * (1024 * 1024)
    sent = [0]

    def endless() -> Iterator[bytes]:
        for _ in range(48):  # 48 MiB, more than any limit
            sent[0] += 1
            yield chunk

    try:
        r = world.gw.client.post("/v1/bank/callback", content=endless(),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    except httpx.HTTPError:
        r = None  # the server hung up mid-body: refused early
    assert r is None or r.status_code == 413 or sent[0] < 48, r.text
