"""End-to-end fixtures for the payment gateway: the sandbox issuer (simulated) in-process on a
free port, the whole app on each engine (lifespan running), a merchant and its secret key,
and helpers that speak only HTTP.

The issuer is asyncio; it runs on its own event loop in a background thread so the app's
TestClient (which runs the app on another loop) talks to it over real TCP, as in production.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongpay.api.app import create_app
from rongpay.sim.issuer import IssuerConfig

from .e2e_support import CARD_DEFAULTS, Issuer

ADMIN_KEY = "rk_admin_payments_e2e_0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ISSUER_BALANCE_MINOR = 10_000_000  # the sandbox issuer's default cardholder balance


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    server = Issuer(IssuerConfig(latency_ms=1, jitter=0.0, seed=7))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def env(issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> Issuer:
    monkeypatch.setenv("RONGPAY_ISSUER", f"127.0.0.1:{issuer.port}")
    monkeypatch.setenv("RONGPAY_VAULT_KEY", base64.b64encode(os.urandom(32)).decode())
    monkeypatch.delenv("RONGPAY_BASE_URL", raising=False)
    return issuer


@pytest.fixture
def app_client(db_url: str, env: Issuer) -> Iterator[TestClient]:
    """The whole app (lifespan run) on DB_URL, talking to the sandbox issuer; no credentials."""
    with TestClient(create_app(db_url, admin_key=ADMIN_KEY)) as client:
        yield client


@dataclass
class Api:
    """A merchant's view of the API through one TestClient."""

    client: TestClient
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

    def admin(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.client.post(path, json=body, headers={**ADMIN, **headers})

    def admin_get(self, path: str) -> Any:
        return self.client.get(path, headers=ADMIN)

    def pay(self, number: str, amount: int = 2000, currency: str = "usd", **extra: Any) -> Any:
        """Create and confirm a card payment in one call."""
        body = {
            "amount": amount, "currency": currency, "confirm": True,
            "payment_method_data": card(number), **extra,
        }  # fmt: skip
        return self.post("/v1/payment_intents", body)

    def intent(self, intent_id: str) -> dict[str, Any]:
        r = self.get(f"/v1/payment_intents/{intent_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def card(number: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"type": "card", "card": {"number": number, **CARD_DEFAULTS, **fields}}


def new_merchant(client: TestClient, **fields: Any) -> Api:
    body = {"name": "Tea House", "country": "US", "default_currency": "usd", **fields}
    r = client.post("/v1/merchants", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    merchant = r.json()
    assert merchant["secret_key"].startswith("sk_test_")
    return Api(client, merchant, merchant["secret_key"])


@pytest.fixture
def api(app_client: TestClient) -> Api:
    return new_merchant(app_client)


def assert_error(r: Any, status: int, code: str, param: str | None = None) -> dict[str, Any]:
    """The one error shape, with STATUS and CODE (and PARAM when given)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert {"type", "code", "message", "param"} <= set(err), err
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    if param is not None:
        assert err["param"] == param, err
    return err


def ledger_account(api: Api, account_id: str) -> dict[str, Any]:
    """A ledger account through the admin API (all zeros when it was never opened)."""
    r = api.admin_get(f"/v1/ledger/accounts/{account_id}")
    if r.status_code == 404:
        zero = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
        return dict.fromkeys(zero, 0)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def merchant_balance(api: Api, currency: str = "USD") -> dict[str, Any]:
    return ledger_account(api, f"T:mb:{api.id}:{currency}")


def fees_account(api: Api, currency: str = "USD") -> dict[str, Any]:
    return ledger_account(api, f"T:fees:{currency}")
