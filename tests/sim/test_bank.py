"""The sandbox bank, over real HTTP: orders, the payment page, decisions, signed callbacks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rongpay.cli import main
from rongpay.payments.channels.bank import BankChannel
from rongpay.security.signing import verify
from rongpay.sim.bank import BankConfig, with_order
from rongpay.sim.bank_callbacks import DeliveryPolicy
from rongpay.sim.bank_orders import BankSimError, OrderRequest, parse_order_request
from rongpay.sim.bank_server import serve_in_thread

SECRET = "bank-test-secret-7d1f"
WAIT_S = 30.0  # a bound on waiting for an asynchronous callback, never a pass condition


@dataclass(frozen=True, slots=True)
class Received:
    body: bytes
    headers: dict[str, str]


class Receiver:
    """A tiny callback endpoint: answers each POST with the next status in STATUSES (then 200)
    and records what it got."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append(Received(body, dict(self.headers.items())))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/bank"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=WAIT_S)

    def wait_for(self, count: int) -> list[Received]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} callbacks, got {len(self.received)}")


def fast_config(**delivery: Any) -> BankConfig:
    policy = DeliveryPolicy(delay_s=0, latency_ms=0, retry_base_s=0.02, **delivery)
    return BankConfig(secret=SECRET, latency_ms=0, delivery=policy, seed=7)


@contextmanager
def bank_client(config: BankConfig | None = None) -> Iterator[httpx.Client]:
    with (
        serve_in_thread(config or fast_config()) as base,
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {SECRET}"}, timeout=10
        ) as client,
    ):
        yield client


@pytest.fixture
def bank() -> Iterator[httpx.Client]:
    with bank_client() as client:
        yield client


def root(client: httpx.Client) -> str:
    return str(client.base_url).rstrip("/")


def order_body(reference: str = "pi_1", callback_url: str = "http://127.0.0.1:9/cb",
               **changes: Any) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "reference": reference,
        "amount_minor": 1234,
        "currency": "USD",
        "description": "Order 42",
        "return_url": "https://shop.example/return?cart=9",
        "callback_url": callback_url,
    }
    body.update(changes)
    return body


def wait_order(
    client: httpx.Client, order_id: str, state: str, attempts: int = 0
) -> dict[str, Any]:
    """The order once its callback is in STATE with at least ATTEMPTS attempts recorded (the
    bank records an attempt after the receiver has answered it)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        order: dict[str, Any] = client.get(f"/orders/{order_id}").json()
        callback = order["callback"]
        if callback["state"] == state and len(callback["attempts"]) >= attempts:
            return order
        time.sleep(0.02)
    raise AssertionError(f"order {order_id} never reached callback state {state}")


def test_create_is_idempotent_on_reference(bank: httpx.Client) -> None:
    first = bank.post("/orders", json=order_body())
    assert first.status_code == 201
    order = first.json()
    assert order["id"].startswith("bo_") and order["status"] == "pending"
    assert order["redirect_url"] == f"{root(bank)}/pay/{order['id']}"
    again = bank.post("/orders", json=order_body())
    assert again.status_code == 200 and again.json()["id"] == order["id"]
    other = bank.post("/orders", json=order_body(amount_minor=999))
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "reference_conflict"
    assert order["id"] in other.json()["error"]["message"]
    fresh = bank.post("/orders", json=order_body(reference="pi_2"))
    assert fresh.status_code == 201 and fresh.json()["id"] != order["id"]


def test_bad_auth_is_401_without_echoing_the_secret(bank: httpx.Client) -> None:
    url = f"{root(bank)}/orders"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {SECRET}"}):
        r = httpx.post(url, json=order_body(), headers=headers, timeout=10)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert SECRET not in r.text
    assert httpx.get(f"{root(bank)}/orders/bo_x", timeout=10).status_code == 401
    assert httpx.post(f"{root(bank)}/orders/bo_x/decide", json={}, timeout=10).status_code == 401


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        (b"{not json", "invalid_json", None),
        (b"[1, 2]", "invalid_json", None),
        (orjson.dumps({k: v for k, v in order_body().items() if k != "reference"}),
         "missing_field", "reference"),
        (orjson.dumps(order_body(reference="has space")), "invalid_field", "reference"),
        (orjson.dumps(order_body(reference="")), "invalid_field", "reference"),
        (orjson.dumps(order_body(amount_minor="12.34")), "invalid_amount", "amount_minor"),
        (orjson.dumps(order_body(amount_minor=0)), "invalid_amount", "amount_minor"),
        (orjson.dumps(order_body(amount_minor=True)), "invalid_amount", "amount_minor"),
        (orjson.dumps(order_body(amount_minor=2**63)), "invalid_amount", "amount_minor"),
        (orjson.dumps(order_body(currency="XYZ")), "unknown_currency", "currency"),
        (orjson.dumps(order_body(currency=12)), "unknown_currency", "currency"),
        (orjson.dumps(order_body(description="x" * 300)), "invalid_field", "description"),
        (orjson.dumps(order_body(return_url="ftp://shop/x")), "invalid_url", "return_url"),
        (orjson.dumps(order_body(callback_url="not a url")), "invalid_url", "callback_url"),
        (orjson.dumps(order_body(callback_url="http://h:99999/")), "invalid_url", "callback_url"),
        (b" " * 20_000, "invalid_json", None),
    ],
)  # fmt: skip
def test_bad_input_is_400_with_a_code(
    bank: httpx.Client, body: bytes, code: str, param: str | None
) -> None:
    r = bank.post("/orders", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == code and error["param"] == param and error["message"]


@pytest.mark.parametrize(
    ("amount_minor", "currency", "shown"),
    [(1500, "JPY", "1500 JPY"), (1234, "BHD", "1.234 BHD"), (1234, "usd", "12.34 USD")],
)
def test_page_shows_the_amount_in_the_currency_exponent(
    bank: httpx.Client, amount_minor: int, currency: str, shown: str
) -> None:
    body = order_body(amount_minor=amount_minor, currency=currency, description="<b>tea</b>")
    order = bank.post("/orders", json=body).json()
    assert order["currency"] == currency.upper()
    page = httpx.get(order["redirect_url"], timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f"<p class=amount id=amount>{shown}</p>" in html
    assert "Sandbox Bank" in html and "simulation" in html and "pi_1" in html
    assert "&lt;b&gt;tea&lt;/b&gt;" in html and "<b>tea" not in html
    assert 'value="approve"' in html and 'value="decline"' in html
    for code in ("insufficient_funds", "account_closed", "declined_by_customer"):
        assert f'<option value="{code}">' in html


def test_unknown_routes_and_methods_answer_in_the_error_shape(bank: httpx.Client) -> None:
    r = bank.get("/nowhere")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "route_not_found")
    r = bank.delete("/orders")
    assert (r.status_code, r.json()["error"]["code"]) == (405, "method_not_allowed")


def test_unknown_order_page_is_404(bank: httpx.Client) -> None:
    r = httpx.get(f"{root(bank)}/pay/bo_nothing", timeout=10)
    assert r.status_code == 404 and "Payment not found" in r.text
    posted = httpx.post(f"{root(bank)}/pay/bo_nothing", data={"decision": "approve"}, timeout=10)
    assert posted.status_code == 404


def test_approve_on_the_page_redirects_and_sends_a_signed_callback(bank: httpx.Client) -> None:
    with Receiver() as receiver:
        order = bank.post("/orders", json=order_body(callback_url=receiver.url)).json()
        form = {"decision": "approve", "failure_code": "insufficient_funds"}
        r = httpx.post(order["redirect_url"], data=form, timeout=10)
        assert r.status_code == 303
        assert r.headers["location"] == f"https://shop.example/return?cart=9&order={order['id']}"
        (got,) = receiver.wait_for(1)
    header = got.headers["Bank-Signature"]
    assert verify(got.body, header, [SECRET]) > 0
    payload = orjson.loads(got.body)
    assert payload["order"] == order["id"] and payload["reference"] == "pi_1"
    assert payload["status"] == "succeeded" and payload["failure_code"] is None
    assert (payload["amount_minor"], payload["currency"]) == (1234, "USD")
    assert payload["decided_at"].endswith("Z")
    callback = BankChannel("http://unused", SECRET).parse_callback(got.body, header)
    assert callback.status == "succeeded" and callback.order == order["id"]
    seen = wait_order(bank, order["id"], "delivered")
    assert seen["status"] == "succeeded" and seen["callback"]["attempts"][0]["status_code"] == 200


def test_decline_with_a_reason_then_a_second_decision_is_refused(bank: httpx.Client) -> None:
    with Receiver() as receiver:
        order = bank.post("/orders", json=order_body(callback_url=receiver.url)).json()
        form = {"decision": "decline", "failure_code": "insufficient_funds"}
        r = httpx.post(order["redirect_url"], data=form, timeout=10)
        assert r.status_code == 303
        (got,) = receiver.wait_for(1)
        again = httpx.post(order["redirect_url"], data={"decision": "approve"}, timeout=10)
        assert again.status_code == 409 and "Already decided" in again.text
        api_again = bank.post(f"/orders/{order['id']}/decide", json={"decision": "approve"})
        assert api_again.status_code == 409
        assert api_again.json()["error"]["code"] == "already_decided"
    payload = orjson.loads(got.body)
    assert payload["status"] == "failed" and payload["failure_code"] == "insufficient_funds"
    page = httpx.get(order["redirect_url"], timeout=10).text
    assert "declined (insufficient_funds)" in page and 'value="approve"' not in page
    assert bank.get(f"/orders/{order['id']}").json()["status"] == "failed"


def test_decide_api_and_its_refusals(bank: httpx.Client) -> None:
    with Receiver() as receiver:
        order = bank.post("/orders", json=order_body(callback_url=receiver.url)).json()
        path = f"/orders/{order['id']}/decide"
        refusals = [
            ({"decision": "maybe"}, 400, "invalid_decision"),
            ({"decision": "approve", "failure_code": "account_closed"}, 400,
             "invalid_failure_code"),
            ({"decision": "decline", "failure_code": "bored"}, 400, "invalid_failure_code"),
        ]  # fmt: skip
        for body, status, code in refusals:
            r = bank.post(path, json=body)
            assert (r.status_code, r.json()["error"]["code"]) == (status, code)
        missing = bank.post("/orders/bo_missing/decide", json={"decision": "approve"})
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "order_not_found")
        r = bank.post(path, json={"decision": "decline", "failure_code": "account_closed"})
        assert r.status_code == 200 and r.json()["failure_code"] == "account_closed"
        (got,) = receiver.wait_for(1)
    assert orjson.loads(got.body)["failure_code"] == "account_closed"


def test_bad_form_is_400(bank: httpx.Client) -> None:
    order = bank.post("/orders", json=order_body()).json()
    r = httpx.post(order["redirect_url"], data={"decision": "later"}, timeout=10)
    assert r.status_code == 400 and "Choose Approve or Decline" in r.text
    assert bank.get(f"/orders/{order['id']}").json()["status"] == "pending"


def test_a_failing_receiver_gets_the_callback_on_the_third_try(bank: httpx.Client) -> None:
    with Receiver(statuses=[500, 503]) as receiver:
        order = bank.post("/orders", json=order_body(callback_url=receiver.url)).json()
        bank.post(f"/orders/{order['id']}/decide", json={"decision": "approve"})
        got = receiver.wait_for(3)
        seen = wait_order(bank, order["id"], "delivered")
    assert len({r.body for r in got}) == 1  # the same callback each time
    for r in got:
        assert verify(r.body, r.headers["Bank-Signature"], [SECRET]) > 0
    attempts = seen["callback"]["attempts"]
    assert [a["status_code"] for a in attempts] == [500, 503, 200]
    assert [a["number"] for a in attempts] == [1, 2, 3]


def test_the_bank_gives_up_after_max_attempts() -> None:
    with bank_client(fast_config(max_attempts=3)) as bank, Receiver([500] * 10) as receiver:
        order = bank.post("/orders", json=order_body(callback_url=receiver.url)).json()
        bank.post(f"/orders/{order['id']}/decide", json={"decision": "approve"})
        seen = wait_order(bank, order["id"], "gave_up")
        assert len(receiver.received) == 3
    assert [a["status_code"] for a in seen["callback"]["attempts"]] == [500, 500, 500]
    assert seen["status"] == "succeeded"  # the decision stands; the gateway can poll it


def test_an_unreachable_gateway_is_recorded_per_attempt() -> None:
    with bank_client(fast_config(max_attempts=2)) as bank:
        order = bank.post("/orders", json=order_body(callback_url="http://127.0.0.1:9/")).json()
        bank.post(f"/orders/{order['id']}/decide", json={"decision": "decline"})
        seen = wait_order(bank, order["id"], "gave_up")
    attempts = seen["callback"]["attempts"]
    assert len(attempts) == 2 and attempts[0]["status_code"] is None
    assert "could not be reached" in attempts[0]["error"]


def test_duplicate_rate_sends_the_same_callback_twice() -> None:
    with bank_client(fast_config(duplicate_rate=1.0)) as bank, Receiver() as receiver:
        order = bank.post("/orders", json=order_body(callback_url=receiver.url)).json()
        bank.post(f"/orders/{order['id']}/decide", json={"decision": "approve"})
        first, second = receiver.wait_for(2)
        seen = wait_order(bank, order["id"], "delivered", attempts=2)
    assert first.body == second.body
    assert [a["duplicate"] for a in seen["callback"]["attempts"]] == [False, True]


def test_capacity_is_bounded() -> None:
    config = BankConfig(secret=SECRET, latency_ms=0, max_orders=1)
    with bank_client(config) as bank:
        assert bank.post("/orders", json=order_body()).status_code == 201
        assert bank.post("/orders", json=order_body()).status_code == 200  # a replay still works
        full = bank.post("/orders", json=order_body(reference="pi_2"))
    assert (full.status_code, full.json()["error"]["code"]) == (503, "capacity_exceeded")


def test_helpers() -> None:
    assert with_order("https://s.example/r", "bo_1") == "https://s.example/r?order=bo_1"
    assert (
        with_order("https://s.example/r?a=1&b=", "bo_1") == "https://s.example/r?a=1&b=&order=bo_1"
    )
    kept = with_order("https://s.example/r?q=a%20b#top", "bo_1")
    assert kept == "https://s.example/r?q=a%20b&order=bo_1#top"
    policy = DeliveryPolicy(retry_base_s=1.0, retry_max_s=60.0)
    assert [policy.backoff_s(n) for n in (1, 2, 3, 7, 8)] == [1.0, 2.0, 4.0, 60.0, 60.0]
    assert SECRET not in repr(BankConfig(secret=SECRET))
    assert SECRET not in repr(BankChannel("http://bank.example", SECRET))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_bank_runs_as_its_own_process() -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RONGPAY_SANDBOX_BANK_SECRET": SECRET}
    cmd = [sys.executable, "-m", "rongpay", "sandbox", "bank", "--port", str(port),
           "--latency-ms", "0", "--callback-delay-s", "0"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        assert "SIMULATION" in proc.stdout.readline()
        _wait_healthy(base, proc)
        auth = {"Authorization": f"Bearer {SECRET}"}
        with Receiver() as receiver:
            body = order_body(callback_url=receiver.url)
            order = httpx.post(f"{base}/orders", json=body, headers=auth, timeout=10).json()
            assert order["redirect_url"] == f"{base}/pay/{order['id']}"
            decided = httpx.post(f"{base}/orders/{order['id']}/decide", headers=auth,
                                 json={"decision": "approve"}, timeout=10)  # fmt: skip
            assert decided.status_code == 200
            (got,) = receiver.wait_for(1)
        callback = BankChannel(base, SECRET).parse_callback(got.body, got.headers["Bank-Signature"])
        assert (callback.order, callback.status) == (order["id"], "succeeded")
    finally:
        proc.terminate()
        proc.wait(timeout=WAIT_S)
        if proc.stdout:
            proc.stdout.close()


def _wait_healthy(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the sandbox bank exited early"
        try:
            r = httpx.get(f"{base}/healthz", timeout=2)
            assert r.json() == {"status": "ok", "bank": "Sandbox Bank", "simulation": True}
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the sandbox bank did not come up")


def test_cli_refusals(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RONGPAY_SANDBOX_BANK_SECRET", raising=False)
    assert main(["sandbox", "bank", "--port", str(_free_port())]) == 2
    assert "needs a shared secret" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        assert main(["sandbox", "bank", "--secret", SECRET, "--port", port]) == 1
    err = capsys.readouterr().err
    assert "already in use" in err and SECRET not in err
    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "bank", "--secret", SECRET, "--latency-ms", "-5"])
    assert exit_info.value.code == 2


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "reference": JSON | st.text(max_size=140),
        "amount_minor": JSON | st.integers(min_value=-5, max_value=2**64),
        "currency": JSON | st.sampled_from(["USD", "jpy", "BHD", "XXX", "EURO"]),
        "description": JSON,
        "return_url": JSON | st.sampled_from(["https://a.example/r", "http://[::1", "http://h:x/"]),
        "callback_url": JSON | st.sampled_from(["http://127.0.0.1:1/cb", "https://", "//h/p"]),
    },
)


@settings(max_examples=300, deadline=None)
@given(FIELDS | JSON)
def test_any_order_body_is_an_order_or_a_coded_refusal(data: Any) -> None:
    try:
        parsed = parse_order_request(data)
    except BankSimError as exc:
        assert exc.code and exc.message
        return
    assert isinstance(parsed, OrderRequest) and parsed.amount_minor > 0
