"""The hosted checkout pages end to end: the one-time code challenge of a 3-D Secure test card
(the sandbox issuer, simulated, asks for authentication), the return page, unknown ids, and
escaping of everything a page shows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from rongpay.api.app import create_app
from rongpay.sim.issuer_book import DEFAULT_BALANCE_MINOR

from ..payments.e2e_support import (
    ADMIN_KEY,
    THREE_DS_CARD,
    VISA,
    Api,
    Issuer,
    assert_ledger_ok,
    card,
    issuer_running,
    new_merchant,
    set_env,
)

SCRIPT = "<script>alert(1)</script>"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Issuer]:
    with issuer_running() as running:
        set_env(monkeypatch, running)
        yield running


@pytest.fixture
def gw(db_url: str, issuer: Issuer) -> Iterator[Api]:
    with TestClient(create_app(db_url, admin_key=ADMIN_KEY)) as client:
        yield new_merchant(client)
    assert_ledger_ok(db_url)


def challenged(api: Api, amount: int = 2500, **extra: Any) -> tuple[dict[str, Any], str, str]:
    """A 3-D Secure payment waiting for its code: (intent, page path, test code)."""
    body = {"amount": amount, "currency": "usd", "confirm": True,
            "payment_method_data": card(THREE_DS_CARD), **extra}  # fmt: skip
    r = api.post("/v1/payment_intents", body)
    assert r.status_code == 200, r.text
    pi: dict[str, Any] = r.json()
    assert pi["status"] == "requires_action", pi
    action = pi["next_action"]["verify_with_code"]
    assert action["reason"] == "issuer_authentication"
    path = urlsplit(action["hosted_url"]).path
    assert path == f"/checkout/challenge/{pi['id']}"
    return pi, path, str(action["test_code"])


def submit(api: Api, path: str, code: str) -> Any:
    return api.client.post(path, content=f"code={code}".encode(), headers=FORM)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_challenge_page_shows_the_test_code_and_the_right_one_pays(gw: Api, issuer: Issuer) -> None:
    pi, path, code = challenged(gw)
    page = gw.client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert f"<code>{code}</code>" in page.text and "25.00 USD" in page.text
    assert pi["id"] in page.text and "test mode" in page.text
    assert THREE_DS_CARD not in page.text and THREE_DS_CARD[-4:] not in page.text
    bad = submit(gw, path, wrong(code))
    assert bad.status_code == 200
    assert re.search(r'class="err">That code is not right; 2 tries left', bad.text), bad.text
    assert gw.intent(pi["id"])["status"] == "requires_action"
    good = submit(gw, path, code)
    assert good.status_code == 200 and "Payment succeeded" in good.text
    done = gw.intent(pi["id"])
    assert (done["status"], done["amount_received"]) == ("succeeded", 2500)
    assert issuer.balances(THREE_DS_CARD, "USD") == (DEFAULT_BALANCE_MINOR - 2500,) * 2
    assert gw.net() == done["amount_received"] - done["fee"]
    # the page now shows the outcome, and a late code changes nothing
    assert "Payment succeeded" in gw.client.get(path).text
    assert "Payment succeeded" in submit(gw, path, code).text
    assert gw.net() == 2500 - done["fee"]


def test_three_wrong_codes_fail_the_attempt(gw: Api, issuer: Issuer) -> None:
    pi, path, code = challenged(gw)
    assert "2 tries left" in submit(gw, path, wrong(code)).text
    assert "1 tries left" in submit(gw, path, "").text
    last = submit(gw, path, "abc")
    assert last.status_code == 200 and "did not go through" in last.text
    assert "could not be authenticated" in last.text
    failed = gw.intent(pi["id"])
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["decline_code"] == "authentication_failed"
    assert "did not go through" in submit(gw, path, code).text  # too late now
    assert gw.intent(pi["id"])["status"] == "requires_payment_method"
    assert issuer.balances(THREE_DS_CARD, "USD") == (DEFAULT_BALANCE_MINOR,) * 2
    assert gw.net() == 0


def test_oversized_and_odd_forms(gw: Api) -> None:
    pi, path, code = challenged(gw)
    big = gw.client.post(path, content=b"code=" + b"1" * 2000, headers=FORM)
    assert big.status_code == 413 and "too large" in big.text
    odd = gw.client.post(path, content=b"code=\xff\xfe", headers=FORM)
    assert odd.status_code == 200 and "2 tries left" in odd.text
    assert gw.intent(pi["id"])["status"] == "requires_action"
    assert "Payment succeeded" in submit(gw, path, code).text


def test_unknown_ids_are_404_pages(gw: Api) -> None:
    for method, path in [
        ("GET", "/checkout/challenge/pi_nope"),
        ("POST", "/checkout/challenge/pi_nope"),
        ("GET", "/checkout/return/pi_nope"),
        ("GET", "/checkout/qr/pi_nope.svg"),
        ("GET", "/checkout/qr/pi_nope.png"),
    ]:
        r = gw.client.request(method, path, content=b"code=123456", headers=FORM)
        assert r.status_code == 404, (method, path)
        assert "does not exist" in r.text and r.headers["content-type"].startswith("text/html")


def test_pages_of_a_card_payment_show_its_status(gw: Api) -> None:
    pi = gw.pay(VISA, 1000)
    for path in (f"/checkout/challenge/{pi['id']}", f"/checkout/return/{pi['id']}"):
        page = gw.client.get(path)
        assert page.status_code == 200 and "Payment succeeded" in page.text, path
    assert gw.intent(pi["id"])["status"] == "succeeded"
    declined = gw.post("/v1/payment_intents", {
        "amount": 1000, "currency": "usd", "confirm": True,
        "payment_method_data": card("4000000000009995"),
    })  # fmt: skip
    intent = declined.json()["error"]["payment_intent"]["id"]
    page = gw.client.get(f"/checkout/return/{intent}")
    assert "did not go through" in page.text and 'class="err"' in page.text


def test_every_value_is_escaped(gw: Api) -> None:
    api = new_merchant(gw.client, name=SCRIPT)
    pi, path, _ = challenged(api, description=SCRIPT, metadata={"note": SCRIPT})
    pages = [api.client.get(path), submit(api, path, SCRIPT),
             api.client.get(f"{path}?error={SCRIPT}"),
             api.client.get(f"/checkout/return/{pi['id']}")]  # fmt: skip
    for page in pages:
        assert page.status_code == 200
        assert "<script>" not in page.text, page.text


def test_the_challenge_page_shows_no_text_from_the_link(gw: Api) -> None:
    _, path, _ = challenged(gw)
    lure = "Your card is blocked. Call +1 555 0100 now"
    assert lure not in gw.client.get(path, params={"error": lure}).text


def test_live_mode_pages_never_show_the_code(gw: Api) -> None:
    r = gw.admin(f"/v1/merchants/{gw.id}/api_keys", {"livemode": True})
    assert r.status_code == 200, r.text
    live = Api(gw.client, gw.merchant, r.json()["key"])
    body = {"amount": 2500, "currency": "usd", "confirm": True,
            "payment_method_data": card(THREE_DS_CARD)}  # fmt: skip
    r = live.post("/v1/payment_intents", body)
    assert r.status_code == 200 and r.json()["status"] == "requires_action", r.text
    pi = r.json()
    assert "test_code" not in pi["next_action"]["verify_with_code"]
    page = gw.client.get(f"/checkout/challenge/{pi['id']}")
    assert page.status_code == 200 and "<code>" not in page.text
    assert "Sandbox" not in page.text and "test mode" not in page.text
    events = live.get("/v1/events", type="payment_intent.requires_action").json()["data"]
    assert events and all("test_code" not in str(e) for e in events)


def test_racing_right_codes_charge_once(gw: Api, issuer: Issuer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    pi, path, code = challenged(gw, 2500)
    with ThreadPoolExecutor(4) as pool:
        pages = list(pool.map(lambda _: submit(gw, path, code), range(4)))
    assert all(p.status_code == 200 for p in pages)
    done = gw.intent(pi["id"])
    assert (done["status"], done["amount_received"]) == ("succeeded", 2500)
    assert issuer.balances(THREE_DS_CARD, "USD") == (DEFAULT_BALANCE_MINOR - 2500,) * 2
    assert gw.net() == 2500 - done["fee"]


def test_an_endless_form_is_cut_off(gw: Api) -> None:
    _, path, _ = challenged(gw)

    def endless() -> Iterator[bytes]:
        for _ in range(48):  # 48 MiB
            yield b"code=" + b"1" * (1024 * 1024)

    r = gw.client.post(path, content=endless(), headers=FORM)
    assert r.status_code == 413, r.text[:200]
