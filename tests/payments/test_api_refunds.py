"""Refunds end to end, over HTTP only: full, partial and several partial refunds, the limits,
card refunds reaching the sandbox issuer (simulated), wallet refunds, listing, idempotent
replays and concurrent refunds racing for what is left; the ledger is checked after each."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongpay.sim.issuer_book import DEFAULT_BALANCE_MINOR

from .e2e_support import (
    ADMIN_KEY,
    VISA,
    Api,
    Issuer,
    assert_error,
    assert_ledger_ok,
    card,
    fee,
    issuer_running,
    new_customer,
    new_merchant,
    set_env,
    through_risk,
    wallet_available,
)


@pytest.fixture
def issuer_fast(monkeypatch: pytest.MonkeyPatch) -> Iterator[Issuer]:
    with issuer_running() as issuer:
        set_env(monkeypatch, issuer)
        yield issuer


@pytest.fixture
def gw(db_url: str, issuer_fast: Issuer) -> Iterator[Api]:
    from rongpay.api.app import create_app

    with TestClient(create_app(db_url, admin_key=ADMIN_KEY)) as client:
        yield new_merchant(client)
    assert_ledger_ok(db_url)


def refund(api: Api, intent: str, amount: int | None = None, **extra: Any) -> Any:
    body: dict[str, Any] = {"payment_intent": intent, **extra}
    if amount is not None:
        body["amount"] = amount
    return api.post("/v1/refunds", body)


def ok_refund(api: Api, intent: str, amount: int | None = None, **extra: Any) -> dict[str, Any]:
    r = refund(api, intent, amount, **extra)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["object"] == "refund" and body["id"].startswith("re_")
    assert body["status"] == "succeeded" and body["failure_reason"] is None
    return body


# -- card refunds -------------------------------------------------------------------------------


def test_full_card_refund_reaches_the_issuer(gw: Api, issuer_fast: Issuer) -> None:
    pi = gw.pay(VISA, 2000)
    assert issuer_fast.balances(VISA, "USD") == (DEFAULT_BALANCE_MINOR - 2000,) * 2
    assert gw.net() == 2000 - fee(2000)
    re = ok_refund(gw, pi["id"], reason="requested_by_customer", metadata={"order": "42"})
    assert (re["amount"], re["currency"], re["payment_intent"]) == (2000, "usd", pi["id"])
    assert re["charge"] == pi["latest_charge"] and re["reason"] == "requested_by_customer"
    assert re["metadata"] == {"order": "42"} and re["livemode"] is False
    after = gw.intent(pi["id"])
    assert (after["status"], after["amount_refunded"]) == ("succeeded", 2000)
    assert issuer_fast.balances(VISA, "USD") == (DEFAULT_BALANCE_MINOR,) * 2
    assert gw.net() == -fee(2000)  # the fee is not returned
    clearing = gw.account("T:clearing:card:USD")
    assert clearing["debits_posted"] - clearing["credits_posted"] == 0
    types = [e["type"] for e in gw.events()]
    assert "refund.created" in types and "charge.refunded" in types


def test_several_partial_refunds_up_to_the_amount(gw: Api, issuer_fast: Issuer) -> None:
    pi = gw.pay(VISA, 2000)["id"]
    parts = [500, 700, 800]
    for i, part in enumerate(parts):
        assert ok_refund(gw, pi, part)["amount"] == part
        assert gw.intent(pi)["amount_refunded"] == sum(parts[: i + 1])
    assert issuer_fast.balances(VISA, "USD") == (DEFAULT_BALANCE_MINOR,) * 2
    assert_error(refund(gw, pi, 1), 400, "charge_already_refunded")
    assert_error(refund(gw, pi), 400, "charge_already_refunded")
    assert gw.net() == -fee(2000)


def test_partial_then_the_rest_by_default(gw: Api) -> None:
    pi = gw.pay(VISA, 1999)["id"]
    ok_refund(gw, pi, 999)
    assert ok_refund(gw, pi)["amount"] == 1000
    assert gw.intent(pi)["amount_refunded"] == 1999


def test_over_refund_is_refused_and_moves_nothing(gw: Api, issuer_fast: Issuer) -> None:
    pi = gw.pay(VISA, 2000)["id"]
    err = assert_error(refund(gw, pi, 2001), 400, "amount_too_large")
    assert err["param"] == "amount"
    ok_refund(gw, pi, 1500)
    assert_error(refund(gw, pi, 501), 400, "amount_too_large")
    assert gw.intent(pi)["amount_refunded"] == 1500
    assert issuer_fast.balances(VISA, "USD") == (DEFAULT_BALANCE_MINOR - 500,) * 2
    assert gw.net() == 500 - fee(2000)


@pytest.mark.parametrize("amount", [0, -5, "100", 1.5, True])
def test_bad_amounts(gw: Api, amount: Any) -> None:
    pi = gw.pay(VISA, 2000)["id"]
    assert_error(gw.post("/v1/refunds", {"payment_intent": pi, "amount": amount}), 400,
                 "parameter_invalid")  # fmt: skip
    assert gw.intent(pi)["amount_refunded"] == 0


def test_bad_reason_and_metadata(gw: Api) -> None:
    pi = gw.pay(VISA, 2000)["id"]
    err = assert_error(refund(gw, pi, 100, reason="because"), 400, "parameter_invalid")
    assert err["param"] == "reason"
    assert_error(refund(gw, pi, 100, metadata="x"), 400, "parameter_invalid")
    assert_error(refund(gw, pi, 100, metadata={"k": {"nested": 1}}), 400, "parameter_invalid")
    assert gw.intent(pi)["amount_refunded"] == 0
    assert gw.get("/v1/refunds", payment_intent=pi).json()["data"] == []


def test_refund_needs_a_succeeded_payment(gw: Api) -> None:
    r = gw.post("/v1/payment_intents", {"amount": 1000, "currency": "usd"})
    assert r.status_code == 200, r.text
    assert_error(refund(gw, r.json()["id"]), 400, "payment_intent_unexpected_state")
    held = gw.pay(VISA, 1000, capture_method="manual")
    assert held["status"] == "requires_capture"
    assert_error(refund(gw, held["id"]), 400, "payment_intent_unexpected_state")
    declined = gw.post("/v1/payment_intents", {
        "amount": 1000, "currency": "usd", "confirm": True,
        "payment_method_data": {"type": "card", "card": {
            "number": "4000000000000002", "exp_month": 12, "exp_year": 2034, "cvc": "123"}},
    })  # fmt: skip
    assert declined.status_code == 402
    pi = declined.json()["error"]["payment_intent"]["id"]
    assert_error(refund(gw, pi), 400, "payment_intent_unexpected_state")
    assert_error(refund(gw, "pi_nope"), 404, "resource_missing")
    assert_error(gw.post("/v1/refunds", {"payment_intent": held["id"], "x": 1}), 400,
                 "parameter_unknown")  # fmt: skip


def test_refund_without_payment_intent_is_parameter_missing(gw: Api) -> None:
    err = assert_error(gw.post("/v1/refunds", {"amount": 100}), 400, "parameter_missing")
    assert err["param"] == "payment_intent"


def test_refund_of_a_captured_manual_payment(gw: Api, issuer_fast: Issuer) -> None:
    held = gw.pay(VISA, 3000, capture_method="manual")
    r = gw.post(f"/v1/payment_intents/{held['id']}/capture", {"amount_to_capture": 2000})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    assert_error(refund(gw, held["id"], 2001), 400, "amount_too_large")
    ok_refund(gw, held["id"])
    assert gw.intent(held["id"])["amount_refunded"] == 2000
    assert issuer_fast.balances(VISA, "USD") == (DEFAULT_BALANCE_MINOR,) * 2


def test_another_merchants_payment_is_not_found(gw: Api) -> None:
    pi = gw.pay(VISA, 1000)["id"]
    other = new_merchant(gw.client, name="Other")
    assert_error(refund(other, pi), 404, "resource_missing")
    assert other.get("/v1/refunds", payment_intent=pi).json()["data"] == []


# -- wallet refunds -----------------------------------------------------------------------------


def test_wallet_refund_credits_the_wallet(gw: Api) -> None:
    cus = new_customer(gw, topup=10_000)
    r = gw.admin(f"/v1/customers/{cus}/mandates", {"merchant": gw.id})
    assert r.status_code == 200, r.text
    body = {"amount": 4000, "currency": "usd", "confirm": True,
            "payment_method_data": {"type": "wallet", "wallet": {"customer": cus}}}  # fmt: skip
    r = through_risk(gw, gw.post("/v1/payment_intents", body))
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    pi = r.json()
    assert wallet_available(gw, cus) == 6000
    earned = gw.net()
    assert earned == 4000 - pi["fee"]
    ok_refund(gw, pi["id"], 1500)
    assert wallet_available(gw, cus) == 7500
    ok_refund(gw, pi["id"])
    assert wallet_available(gw, cus) == 10_000
    assert gw.net() == -pi["fee"]
    assert_error(refund(gw, pi["id"]), 400, "charge_already_refunded")


# -- listing ------------------------------------------------------------------------------------


def test_list_refunds_by_payment(gw: Api) -> None:
    one, two = gw.pay(VISA, 1000)["id"], gw.pay(VISA, 1000)["id"]
    a, b = ok_refund(gw, one, 100), ok_refund(gw, one, 200)
    c = ok_refund(gw, two, 300)
    r = gw.get("/v1/refunds", payment_intent=one)
    assert r.status_code == 200, r.text
    listed = r.json()
    assert listed["object"] == "list" and listed["has_more"] is False
    assert [x["id"] for x in listed["data"]] == [b["id"], a["id"]]  # newest first
    assert listed["data"][0] == b
    every = [x["id"] for x in gw.get("/v1/refunds").json()["data"]]
    assert sorted(every) == sorted([a["id"], b["id"], c["id"]])
    page = gw.get("/v1/refunds", limit=1).json()
    assert len(page["data"]) == 1 and page["has_more"] is True
    assert gw.get("/v1/refunds", payment_intent="pi_none").json()["data"] == []


# -- idempotency and races ----------------------------------------------------------------------


def test_idempotent_replay_refunds_once(gw: Api, issuer_fast: Issuer) -> None:
    pi = gw.pay(VISA, 2000)["id"]
    key = {"Idempotency-Key": "refund-once-1"}
    first = gw.post("/v1/refunds", {"payment_intent": pi, "amount": 600}, **key)
    assert first.status_code == 200, first.text
    again = gw.post("/v1/refunds", {"payment_intent": pi, "amount": 600}, **key)
    assert again.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert gw.intent(pi)["amount_refunded"] == 600
    assert len(gw.get("/v1/refunds", payment_intent=pi).json()["data"]) == 1
    assert issuer_fast.balances(VISA, "USD") == (DEFAULT_BALANCE_MINOR - 1400,) * 2
    other = gw.post("/v1/refunds", {"payment_intent": pi, "amount": 700}, **key)
    assert_error(other, 400, "idempotency_error")


def test_idempotent_replay_of_a_refused_refund(gw: Api) -> None:
    pi = gw.pay(VISA, 2000)["id"]
    key = {"Idempotency-Key": "refund-too-much"}
    first = gw.post("/v1/refunds", {"payment_intent": pi, "amount": 5000}, **key)
    assert_error(first, 400, "amount_too_large")
    again = gw.post("/v1/refunds", {"payment_intent": pi, "amount": 5000}, **key)
    assert_error(again, 400, "amount_too_large")
    assert gw.intent(pi)["amount_refunded"] == 0


def test_wallet_refund_replay(gw: Api) -> None:
    cus = new_customer(gw, topup=5000)
    assert gw.admin(f"/v1/customers/{cus}/mandates", {"merchant": gw.id}).status_code == 200
    body = {"amount": 3000, "currency": "usd", "confirm": True,
            "payment_method_data": {"type": "wallet", "wallet": {"customer": cus}}}  # fmt: skip
    pi = through_risk(gw, gw.post("/v1/payment_intents", body)).json()["id"]
    key = {"Idempotency-Key": "wallet-refund-1"}
    first = gw.post("/v1/refunds", {"payment_intent": pi}, **key)
    again = gw.post("/v1/refunds", {"payment_intent": pi}, **key)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json()["id"] == first.json()["id"]
    assert wallet_available(gw, cus) == 5000


@pytest.mark.parametrize("kind", ["card", "wallet"])
def test_concurrent_refunds_never_exceed_the_amount(gw: Api, issuer_fast: Issuer,
                                                    kind: str) -> None:  # fmt: skip
    if kind == "card":
        pi = gw.pay(VISA, 1000)["id"]
    else:
        cus = new_customer(gw, topup=1000)
        assert gw.admin(f"/v1/customers/{cus}/mandates", {"merchant": gw.id}).status_code == 200
        body = {"amount": 1000, "currency": "usd", "confirm": True,
                "payment_method_data": {"type": "wallet", "wallet": {"customer": cus}}}  # fmt: skip
        pi = through_risk(gw, gw.post("/v1/payment_intents", body)).json()["id"]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: refund(gw, pi, 300), range(8)))
    ok = [r for r in answers if r.status_code == 200]
    for r in answers:
        if r.status_code != 200:
            assert_error(r, 400, "amount_too_large")
    assert len(ok) == 3  # 3 x 300 fit in 1000; a fourth would not
    assert gw.intent(pi)["amount_refunded"] == 900
    listed = gw.get("/v1/refunds", payment_intent=pi).json()["data"]
    assert sorted(x["status"] for x in listed) == ["succeeded"] * 3
    if kind == "card":
        assert issuer_fast.balances(VISA, "USD") == (DEFAULT_BALANCE_MINOR - 100,) * 2
    else:
        assert wallet_available(gw, cus) == 900


def test_card_refund_while_the_issuer_is_down_fails_and_releases(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rongpay.api.app import create_app

    with issuer_running() as issuer:
        set_env(monkeypatch, issuer)
        with TestClient(create_app(db_url, admin_key=ADMIN_KEY)) as client:
            gw = new_merchant(client)
            pi = gw.pay(VISA, 2000)["id"]
            issuer.stop()  # the card network goes away
            r = refund(gw, pi, 500)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "failed" and r.json()["failure_reason"]
            assert gw.intent(pi)["amount_refunded"] == 0
            assert gw.net() == 2000 - fee(2000)
            listed = gw.get("/v1/refunds", payment_intent=pi).json()["data"]
            assert [x["status"] for x in listed] == ["failed"]
            assert "refund.failed" in [e["type"] for e in gw.events("refund.*")]
    assert_ledger_ok(db_url)


def test_one_key_racing_refunds_once(gw: Api, issuer_fast: Issuer) -> None:
    pi = gw.pay(VISA, 2000)["id"]
    key = {"Idempotency-Key": "refund-race"}
    body = {"payment_intent": pi, "amount": 700}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: gw.post("/v1/refunds", body, **key), range(8)))
    done = [r for r in answers if r.status_code == 200]
    assert done, [r.text for r in answers]
    for r in answers:
        if r.status_code != 200:
            assert_error(r, 409, "idempotency_key_in_use")
    assert len({r.json()["id"] for r in done}) == 1
    assert gw.intent(pi)["amount_refunded"] == 700
    assert len(gw.get("/v1/refunds", payment_intent=pi).json()["data"]) == 1
    assert issuer_fast.balances(VISA, "USD") == (DEFAULT_BALANCE_MINOR - 1300,) * 2


# -- the charge in events -----------------------------------------------------------------------

CHARGE_KEYS = {"id", "object", "amount", "amount_captured", "amount_refunded", "captured",
               "created", "currency", "disputed", "failure_code", "livemode", "outcome",
               "payment_intent", "payment_method_details", "refunded", "status"}  # fmt: skip


def _charge_in(gw: Api, type_: str, intent: str) -> list[dict[str, Any]]:
    found = [e["data"]["object"] for e in gw.events(type_)]
    return [c for c in found if c["payment_intent"] == intent]


def test_charge_events_carry_the_whole_charge_as_it_became(gw: Api) -> None:
    """charge.succeeded (card, updated in the second commit), charge.captured and
    charge.refunded show the same charge object, each as the change left it."""
    pi = gw.pay(VISA, 3000, capture_method="manual")
    assert pi["status"] == "requires_capture"
    (authorised,) = _charge_in(gw, "charge.succeeded", pi["id"])
    assert set(authorised) >= CHARGE_KEYS
    assert (authorised["id"], authorised["status"]) == (pi["latest_charge"], "succeeded")
    assert (authorised["captured"], authorised["amount_captured"]) == (False, 0)
    assert authorised["payment_method_details"]["card"]["last4"] == VISA[-4:]
    r = gw.post(f"/v1/payment_intents/{pi['id']}/capture", {"amount_to_capture": 2500})
    assert r.status_code == 200, r.text
    (captured,) = _charge_in(gw, "charge.captured", pi["id"])
    assert set(captured) >= CHARGE_KEYS
    assert (captured["captured"], captured["amount_captured"]) == (True, 2500)
    assert captured["created"] == authorised["created"]
    ok_refund(gw, pi["id"], 1000)
    ok_refund(gw, pi["id"])  # the rest
    first, second = sorted(_charge_in(gw, "charge.refunded", pi["id"]),
                           key=lambda c: c["amount_refunded"])  # fmt: skip
    assert set(first) >= CHARGE_KEYS
    assert (first["amount_refunded"], first["refunded_now"], first["refunded"]) == (
        1000,
        1000,
        False,
    )
    assert (second["amount_refunded"], second["refunded_now"], second["refunded"]) == (
        2500,
        1500,
        True,
    )
    declined = gw.post("/v1/payment_intents", {"amount": 1000, "currency": "usd", "confirm": True,
                       "payment_method_data": card("4000000000000002")})  # fmt: skip
    assert declined.status_code == 402
    failed_pi = declined.json()["error"]["payment_intent"]["id"]
    (failed,) = _charge_in(gw, "charge.failed", failed_pi)
    assert set(failed) >= CHARGE_KEYS
    assert (failed["status"], failed["failure_code"]) == ("failed", "generic_decline")
