"""The back office's payments page: signed-in only, shows totals, declines, held payments and
disputes, every value escaped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rongpay.api import create_app

KEY = "rk_admin_web_payments"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def browser(db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(db_url, admin_key=KEY), follow_redirects=False) as c:
        yield c


def test_signed_out_is_sent_to_the_login_form(browser: TestClient) -> None:
    r = browser.get("/payments")
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_shows_payments_declines_and_holds_escaped(browser: TestClient) -> None:
    shop = {"name": "<script>alert(1)</script>", "country": "US", "default_currency": "usd"}
    m = browser.post("/v1/merchants", headers=AUTH, json=shop).json()
    sk = {"Authorization": f"Bearer {m['secret_key']}"}

    def customer(name: str, country: str, balance: int) -> str:
        who = {"name": name, "country": country, "kyc_tier": "full"}
        cid = browser.post("/v1/customers", headers=AUTH, json=who).json()["id"]
        browser.post(f"/v1/customers/{cid}/topups", headers=AUTH,
                     json={"amount": balance, "currency": "usd"})  # fmt: skip
        browser.post(f"/v1/customers/{cid}/mandates", headers=AUTH, json={"merchant": m["id"]})
        return str(cid)

    def pay(cid: str, amount: int) -> dict[str, object]:
        method = {"type": "wallet", "wallet": {"customer": cid}}
        r = browser.post("/v1/payment_intents", headers=sk, json={
            "amount": amount, "currency": "usd", "confirm": True,
            "payment_method_data": method, "description": "<i>order</i>"})  # fmt: skip
        body = r.json()
        return body["error"]["payment_intent"] if r.status_code == 402 else body  # type: ignore[no-any-return]

    ok = pay(customer("Ann Lee", "US", 10_000), 2_500)
    poor = pay(customer("Bo Chen", "US", 100), 2_500)
    held = pay(customer("Vladimir Putin", "RU", 10_000), 1_000)
    assert (ok["status"], poor["status"], held["status"]) == (
        "succeeded", "requires_payment_method", "processing")  # fmt: skip

    page = browser.get("/payments", headers=AUTH)
    assert page.status_code == 200
    html = page.text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    for shown in (ok["id"], poor["id"], held["id"], "balance_insufficient", "Vladimir Putin",
                  "25.00 USD", "<svg"):  # fmt: skip
        assert str(shown) in html, shown
