"""Shared helpers for the gateway's end-to-end tests (refunds, disputes, bank transfers, QR,
webhooks, hosted pages): the sandbox issuer (simulated) with a short chargeback delay, the
sandbox bank (simulated) on a thread, the whole app served by uvicorn on a free port (so the
bank's callbacks reach it over real HTTP), a merchant's view of the API over any httpx client,
and the ledger check that ends every test.

Everything here speaks HTTP to the app; the only direct reads are the ledger check (what
`rongpay ledger check` runs) and the issuer's book (another party's records).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import uvicorn

from rongpay.api.app import create_app
from rongpay.ledger.check import check
from rongpay.sim.bank import BankConfig
from rongpay.sim.bank_callbacks import DeliveryPolicy
from rongpay.sim.bank_server import serve_in_thread
from rongpay.sim.issuer import IssuerConfig, IssuerServer
from rongpay.store import engine as store_engine

ADMIN_KEY = "rk_admin_payments_e2e_support_0123"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CARD_DEFAULTS = {"exp_month": 12, "exp_year": 2034, "cvc": "123"}
BANK_SECRET = "sandbox-bank-secret-for-e2e-tests"
VISA = "4242424242424242"
DISPUTED_CARD = "4000000000000259"  # succeeds, then the issuer charges it back
THREE_DS_CARD = "4000002500003155"  # the issuer asks for authentication
WAIT_S = 15.0  # an upper bound for asynchronous outcomes, never a pass condition

T = TypeVar("T")


# -- outside parties (simulated) --------------------------------------------------------------


class Issuer:
    """The sandbox issuer (simulated) on its own event loop in a background thread."""

    def __init__(self, config: IssuerConfig) -> None:
        self.server = IssuerServer(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="issuer", daemon=True)
        self.port = 0

    def start(self) -> None:
        self.thread.start()
        self.port = self.call(self.server.start("127.0.0.1", 0))

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def stop(self) -> None:
        """Stop serving (a test may stop it early: the network goes away); idempotent."""
        if self.loop.is_closed():
            return
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def balances(self, pan: str, currency: str) -> tuple[int, int]:
        """(balance, available) of the cardholder's account, read on the issuer's loop."""

        async def read() -> tuple[int, int]:
            account = self.server.book.account(pan)
            return account.balance(currency), account.available(currency)

        result: tuple[int, int] = self.call(read())
        return result


@contextmanager
def issuer_running(dispute_after_s: float = 0.2, advice_retry_s: float = 0.3
                   ) -> Iterator[Issuer]:  # fmt: skip
    """The sandbox issuer; ADVICE_RETRY_S is how long it waits for a chargeback's ack before
    repeating the advice (0: it repeats at once, every time)."""
    issuer = Issuer(IssuerConfig(latency_ms=1, jitter=0.0, dispute_after_s=dispute_after_s,
                                 advice_retry_s=advice_retry_s, seed=7))  # fmt: skip
    issuer.start()
    try:
        yield issuer
    finally:
        issuer.stop()


@contextmanager
def bank_running(max_orders: int = 1000, refund_delay_s: float | None = 0.0,
                 **delivery: Any) -> Iterator[str]:  # fmt: skip
    """The sandbox bank (simulated) on a thread, answering, paying refunds out and calling
    back at once (REFUND_DELAY_S None: refunds are paid out when a test says so)."""
    policy = DeliveryPolicy(delay_s=0, latency_ms=0, retry_base_s=0.05, **delivery)
    config = BankConfig(secret=BANK_SECRET, latency_ms=0, delivery=policy, seed=7,
                        max_orders=max_orders, refund_delay_s=refund_delay_s)  # fmt: skip
    with serve_in_thread(config) as url:
        yield url


def set_env(monkeypatch: pytest.MonkeyPatch, issuer: Issuer, *, bank_url: str | None = None,
            base_url: str | None = None) -> None:  # fmt: skip
    monkeypatch.setenv("RONGPAY_ISSUER", f"127.0.0.1:{issuer.port}")
    monkeypatch.setenv("RONGPAY_VAULT_KEY", base64.b64encode(os.urandom(32)).decode())
    for name, value in (("RONGPAY_BANK_URL", bank_url), ("RONGPAY_BASE_URL", base_url)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("RONGPAY_BANK_SECRET", BANK_SECRET)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def app_served(db_url: str, sock: socket.socket) -> Iterator[str]:
    """The whole app (lifespan running) served by uvicorn on SOCK; yields its base URL."""
    with serving(create_app(db_url, admin_key=ADMIN_KEY), sock) as url:
        yield url


@contextmanager
def serving(app: Any, sock: socket.socket) -> Iterator[str]:
    """APP served by uvicorn (lifespan on) on SOCK from a thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="rongpay-app")  # fmt: skip
    thread.start()
    try:
        poll(lambda: server.started or not thread.is_alive(), "the app to start")
        assert thread.is_alive(), "the app did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT_S)
        sock.close()


# -- the merchant's view -----------------------------------------------------------------------


@dataclass
class Api:
    """A merchant's view of the API through one httpx client (a TestClient is one too)."""

    client: Any  # an httpx.Client, or a TestClient (one too, to pytest; not to mypy)
    merchant: dict[str, Any]
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def id(self) -> str:
        return str(self.merchant["id"])

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.client.post(path, json=body, headers={**self.auth, **headers})

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.auth)

    def admin(self, path: str, body: Any = None) -> Any:
        return self.client.post(path, json=body, headers=ADMIN)

    def admin_get(self, path: str) -> Any:
        return self.client.get(path, headers=ADMIN)

    def pay(self, number: str, amount: int = 2000, currency: str = "usd", **extra: Any) -> Any:
        """Create and confirm a card payment; the intent (asserted 200)."""
        body = {"amount": amount, "currency": currency, "confirm": True,
                "payment_method_data": card(number), **extra}  # fmt: skip
        r = self.post("/v1/payment_intents", body)
        assert r.status_code == 200, r.text
        return r.json()

    def intent(self, intent_id: str) -> dict[str, Any]:
        r = self.get(f"/v1/payment_intents/{intent_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def account(self, account_id: str) -> dict[str, int]:
        """A ledger account's four balances (zeros when it was never opened)."""
        r = self.admin_get(f"/v1/ledger/accounts/{account_id}")
        names = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
        if r.status_code == 404:
            return dict.fromkeys(names, 0)
        assert r.status_code == 200, r.text
        body = r.json()
        return {n: int(body[n]) for n in names}

    def balance(self, currency: str = "USD") -> dict[str, int]:
        return self.account(f"T:mb:{self.id}:{currency}")

    def net(self, currency: str = "USD") -> int:
        """What the merchant has earned: credits_posted - debits_posted."""
        b = self.balance(currency)
        return b["credits_posted"] - b["debits_posted"]

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        params = {"limit": 100} | ({"type": type_} if type_ else {})
        r = self.get("/v1/events", **params)
        assert r.status_code == 200, r.text
        data: list[dict[str, Any]] = r.json()["data"]
        return data


def card(number: str, **fields: Any) -> dict[str, Any]:
    return {"type": "card", "card": {"number": number, **CARD_DEFAULTS, **fields}}


def new_merchant(client: Any, **fields: Any) -> Api:
    body = {"name": "Tea House", "country": "US", "default_currency": "usd", **fields}
    r = client.post("/v1/merchants", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    merchant = r.json()
    return Api(client, merchant, merchant["secret_key"])


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    """The one error shape, with STATUS and CODE."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    return err


def fee(amount: int, percent_tenths: int = 29, fixed: int = 30) -> int:
    """The default card fee (2.9% + 30), half-even rounding as fees.py does."""
    q, r = divmod(amount * percent_tenths, 1000)
    if 2 * r > 1000 or (2 * r == 1000 and q % 2):
        q += 1
    return q + fixed


# -- wallets -----------------------------------------------------------------------------------


def new_customer(api: Api, *, tier: str = "full", topup: int = 0, currency: str = "usd") -> str:
    r = api.admin("/v1/customers", {"name": "Li Wei", "kyc_tier": tier})
    assert r.status_code == 200, r.text
    customer = str(r.json()["id"])
    if topup:
        r = api.admin(f"/v1/customers/{customer}/topups", {"amount": topup, "currency": currency})
        assert r.status_code == 200, r.text
    return customer


def wallet_available(api: Api, customer: str, currency: str = "usd") -> int:
    r = api.admin_get(f"/v1/customers/{customer}/balance")
    assert r.status_code == 200, r.text
    found = [b["available"] for b in r.json()["balances"] if b["currency"] == currency]
    return int(found[0]) if found else 0


def through_risk(api: Api, r: Any) -> Any:
    """The risk engine may ask for a one-time code: answer it (test mode shows the code)."""
    if r.status_code != 200 or r.json()["status"] != "requires_action":
        return r
    pi = r.json()
    action = pi["next_action"]
    if action["type"] != "verify_with_code":
        return r
    code = action["verify_with_code"]["test_code"]
    return api.post(f"/v1/payment_intents/{pi['id']}/verify_challenge", {"code": code})


# -- waiting and checking ----------------------------------------------------------------------


def poll(probe: Callable[[], T | None], what: str, timeout_s: float = WAIT_S) -> T:
    """PROBE's first truthy answer; fails after TIMEOUT_S (a bound, not a pass condition)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def assert_ledger_ok(db_url: str) -> None:
    """What `rongpay ledger check` checks: every invariant holds."""
    engine = store_engine.create(db_url)
    try:
        report = check(engine)
    finally:
        engine.dispose()
    assert report.ok, report.as_dict()
