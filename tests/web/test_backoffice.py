"""The back office at `/`: sign-in with the admin key, HttpOnly cookie, escaped HTML."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rongpay.api import create_app

KEY = "rk_admin_web_test_key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def browser(db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(db_url, admin_key=KEY), follow_redirects=False) as c:
        yield c


def _seed(c: TestClient) -> None:
    r = c.post("/v1/ledger/accounts", headers=AUTH, json={"accounts": [
        {"id": "cash", "ledger": "USD", "code": "nostro"},
        {"id": "w1", "ledger": "USD", "code": "customer_wallet", "owner": "<script>x</script>"},
        {"id": "yen", "ledger": "JPY", "code": "nostro"},
        {"id": "yen2", "ledger": "JPY", "code": "wallet"},
    ]})  # fmt: skip
    assert r.status_code == 200
    r = c.post("/v1/ledger/transfers", headers=AUTH, json={"transfers": [
        {"id": "t1", "debit_account_id": "cash", "credit_account_id": "w1", "amount": 123456,
         "ledger": "USD", "code": "topup", "user_data": "<b>pi_1</b>"},
        {"id": "t2", "debit_account_id": "yen", "credit_account_id": "yen2", "amount": 5000,
         "ledger": "JPY", "code": "topup"},
    ]})  # fmt: skip
    assert [x["result"] for x in r.json()["results"]] == ["ok", "ok"]


def test_signed_out_is_sent_to_the_login_form(browser: TestClient) -> None:
    r = browser.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    form = browser.get("/login")
    assert form.status_code == 200 and 'name="key"' in form.text
    browser.cookies.set("rongpay_session", "forged")
    assert browser.get("/").status_code == 303


def test_login_sets_httponly_cookie_and_shows_the_ledger(browser: TestClient) -> None:
    _seed(browser)
    wrong = browser.post("/login", data={"key": "nope"})
    assert wrong.status_code == 401 and "not the admin key" in wrong.text
    assert "set-cookie" not in wrong.headers
    r = browser.post("/login", data={"key": KEY})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and KEY not in cookie
    page = browser.get("/")
    assert page.status_code == 200
    html = page.text
    assert "1234.56 USD" in html and "5000 JPY" in html  # format_money, JPY without decimals
    assert "t1" in html and "t2" in html
    assert "<svg" in html and "transfer volume per ledger" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    assert "<b>pi_1</b>" not in html
    assert 'href="/docs"' in html and 'href="/openapi.json"' in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no CDN
    out = browser.post("/logout")
    assert out.status_code == 303 and 'rongpay_session=""' in out.headers["set-cookie"]


def test_bearer_header_works_for_scripts(browser: TestClient) -> None:
    assert browser.get("/", headers=AUTH).status_code == 200
    assert browser.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 303


def test_empty_ledger_page(browser: TestClient) -> None:
    html = browser.get("/", headers=AUTH).text
    assert "No accounts yet" in html and "No transfers yet" in html


def test_odd_login_bodies_are_401_not_500(browser: TestClient) -> None:
    for body in (b"", b"key", b"%ff%fe", b"key=" + b"a" * 10_000, b"\xff\xfe"):
        r = browser.post("/login", content=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert r.status_code == 401


def test_database_down_is_503_not_500() -> None:
    app = create_app("postgresql://nobody@127.0.0.1:1/none", admin_key=KEY)
    with TestClient(app) as c:
        r = c.get("/", headers=AUTH)
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "service_unavailable"
        assert c.get("/login").status_code == 200  # the form itself needs no database
