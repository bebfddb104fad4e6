"""Card payments end to end, over HTTP only: every test card of docs/reference/cards.md against
the sandbox issuer (simulated), 3-D Secure codes, the timeout card, manual capture, fees,
authentication, pagination, and malformed input that must never be a 500."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from .conftest import (
    ADMIN,
    ISSUER_BALANCE_MINOR,
    Api,
    Issuer,
    assert_error,
    card,
    fees_account,
    merchant_balance,
    new_merchant,
)

VISA = "4242424242424242"
GB_VISA = "4000008260000000"  # Stripe's GB test BIN: a cross-border card for a US merchant
THREE_DS = ("4000002500003155", "4000002760003184")
TIMEOUT_CARD = "4000000000000408"

SUCCEEDING = [
    ("4242424242424242", "visa", "123"),
    ("5555555555554444", "mastercard", "123"),
    ("378282246310005", "amex", "1234"),
    ("6200000000000005", "unionpay", "123"),
    ("4000000000000259", "visa", "123"),  # succeeds, disputed later
    ("4111111111111111", "visa", "123"),  # any other Luhn-valid number
]
DECLINING = [
    ("4000000000000002", "generic_decline"),
    ("4000000000009995", "insufficient_funds"),
    ("4000000000009987", "lost_card"),
    ("4000000000009979", "stolen_card"),
    ("4000000000000069", "expired_card"),
    ("4000000000000127", "incorrect_cvc"),
    ("4000000000000119", "processing_error"),
]


def fee(amount: int, percent_tenths: int, fixed: int) -> int:
    """Half-even rounding of amount * percent / 100, with the percent in tenths (29 = 2.9%)."""
    q, r = divmod(amount * percent_tenths, 1000)
    if 2 * r > 1000 or (2 * r == 1000 and q % 2):
        q += 1
    return q + fixed


# -- every test card ------------------------------------------------------------------------


@pytest.mark.parametrize(("number", "brand", "cvc"), SUCCEEDING)
def test_succeeding_cards(api: Api, env: Issuer, number: str, brand: str, cvc: str) -> None:
    r = api.post("/v1/payment_intents", {
        "amount": 2000, "currency": "usd", "confirm": True,
        "payment_method_data": card(number, cvc=cvc),
    })  # fmt: skip
    assert r.status_code == 200, r.text
    pi = r.json()
    assert pi["status"] == "succeeded"
    assert (pi["amount"], pi["amount_received"], pi["amount_capturable"]) == (2000, 2000, 0)
    assert pi["last_payment_error"] is None and pi["latest_charge"].startswith("ch_")
    shown = pi["payment_method"]["card"]
    assert (shown["brand"], shown["last4"]) == (brand, number[-4:])
    assert number not in r.text and not {"number", "cvc"} & set(shown)
    assert env.balances(number, "USD") == (ISSUER_BALANCE_MINOR - 2000,) * 2
    assert api.intent(pi["id"]) == pi


@pytest.mark.parametrize(("number", "decline_code"), DECLINING)
def test_declining_cards(api: Api, env: Issuer, number: str, decline_code: str) -> None:
    r = api.pay(number)
    err = assert_error(r, 402, "card_declined")
    assert err["type"] == "card_error"
    assert err["decline_code"] == decline_code
    pi = err["payment_intent"]
    assert pi["status"] == "requires_payment_method"
    assert pi["amount_received"] == 0
    assert pi["last_payment_error"]["code"] == "card_declined"
    assert pi["last_payment_error"]["decline_code"] == decline_code
    assert api.intent(pi["id"])["status"] == "requires_payment_method"
    # A declined attempt moved no money: the merchant's balance is untouched.
    balance = merchant_balance(api)
    assert balance["credits_posted"] == balance["credits_pending"] == 0


def test_a_declined_intent_can_be_confirmed_again_with_another_card(api: Api) -> None:
    pi = assert_error(api.pay("4000000000000002"), 402, "card_declined")["payment_intent"]
    r = api.post(f"/v1/payment_intents/{pi['id']}/confirm", {"payment_method_data": card(VISA)})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded"
    assert r.json()["last_payment_error"] is None
    assert merchant_balance(api)["credits_posted"] == 2000


# -- 3-D Secure -----------------------------------------------------------------------------


@pytest.mark.parametrize("number", THREE_DS)
def test_three_d_secure_code_then_success(api: Api, env: Issuer, number: str) -> None:
    r = api.pay(number)
    assert r.status_code == 200, r.text
    pi = r.json()
    assert pi["status"] == "requires_action"
    action = pi["next_action"]
    assert action["type"] == "verify_with_code"
    code = action["verify_with_code"]["test_code"]
    assert len(code) == 6 and code.isdigit()
    assert env.balances(number, "USD") == (ISSUER_BALANCE_MINOR,) * 2  # nothing held yet
    r = api.post(f"/v1/payment_intents/{pi['id']}/verify_challenge", {"code": code})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "succeeded" and done["amount_received"] == 2000
    assert done["next_action"] is None
    assert env.balances(number, "USD") == (ISSUER_BALANCE_MINOR - 2000,) * 2
    assert merchant_balance(api)["credits_posted"] == 2000


def test_three_wrong_codes_fail_the_attempt(api: Api, env: Issuer) -> None:
    pi = api.pay(THREE_DS[0]).json()
    code = pi["next_action"]["verify_with_code"]["test_code"]
    wrong = "000000" if code != "000000" else "111111"
    path = f"/v1/payment_intents/{pi['id']}/verify_challenge"
    for left in (2, 1):
        err = assert_error(api.post(path, {"code": wrong}), 400, "challenge_code_invalid", "code")
        assert f"{left} tries left" in err["message"]
        assert api.intent(pi["id"])["status"] == "requires_action"
    err = assert_error(api.post(path, {"code": wrong}), 402, "authentication_failed")
    failed = err["payment_intent"]
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "authentication_failed"
    assert failed["next_action"] is None
    # The right code no longer helps: the challenge is over.
    assert_error(api.post(path, {"code": code}), 400, "payment_intent_unexpected_state")
    assert env.balances(THREE_DS[0], "USD") == (ISSUER_BALANCE_MINOR,) * 2
    assert merchant_balance(api)["credits_posted"] == 0


def test_verify_challenge_on_an_intent_without_one_is_refused(api: Api) -> None:
    pi = api.pay(VISA).json()
    r = api.post(f"/v1/payment_intents/{pi['id']}/verify_challenge", {"code": "123456"})
    assert_error(r, 400, "payment_intent_unexpected_state")


# -- the card the issuer never answers --------------------------------------------------------


def test_timeout_card_fails_with_processing_error_and_the_hold_is_released(
    api: Api, env: Issuer
) -> None:
    """The issuer takes the money and stays silent; the gateway times out (5 s, the
    connector's default) and reverses, so the cardholder gets it back."""
    r = api.pay(TIMEOUT_CARD, amount=3000)
    err = assert_error(r, 402, "processing_error")
    assert err["decline_code"] == "processing_error"
    pi = err["payment_intent"]
    assert pi["status"] == "requires_payment_method" and pi["amount_received"] == 0
    assert env.balances(TIMEOUT_CARD, "USD") == (ISSUER_BALANCE_MINOR,) * 2
    balance = merchant_balance(api)
    assert balance["credits_posted"] == balance["credits_pending"] == 0


# -- manual capture -------------------------------------------------------------------------


def authorise(api: Api, amount: int = 5000, number: str = VISA) -> dict[str, Any]:
    r = api.pay(number, amount=amount, capture_method="manual")
    assert r.status_code == 200, r.text
    pi: dict[str, Any] = r.json()
    assert pi["status"] == "requires_capture"
    assert (pi["amount_capturable"], pi["amount_received"]) == (amount, 0)
    return pi


def test_manual_capture_in_full(api: Api, env: Issuer) -> None:
    pi = authorise(api)
    assert env.balances(VISA, "USD") == (ISSUER_BALANCE_MINOR, ISSUER_BALANCE_MINOR - 5000)
    assert merchant_balance(api)["credits_pending"] == 5000
    r = api.post(f"/v1/payment_intents/{pi['id']}/capture")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "succeeded"
    assert (done["amount_received"], done["amount_capturable"]) == (5000, 0)
    assert done["fee"] == fee(5000, 29, 30)
    assert env.balances(VISA, "USD") == (ISSUER_BALANCE_MINOR - 5000,) * 2
    balance = merchant_balance(api)
    assert balance["credits_pending"] == 0 and balance["credits_posted"] == 5000
    assert balance["debits_posted"] == done["fee"]
    assert_error(api.post(f"/v1/payment_intents/{pi['id']}/capture"), 400,
                 "payment_intent_unexpected_state")  # fmt: skip


def test_partial_capture_books_the_fee_on_the_captured_part(api: Api, env: Issuer) -> None:
    pi = authorise(api, 5000)
    r = api.post(f"/v1/payment_intents/{pi['id']}/capture", {"amount_to_capture": 3000})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "succeeded"
    assert (done["amount_received"], done["amount_capturable"]) == (3000, 0)
    assert done["fee"] == fee(3000, 29, 30)
    # The rest of the hold is released at the issuer and in the ledger.
    assert env.balances(VISA, "USD") == (ISSUER_BALANCE_MINOR - 3000,) * 2
    balance = merchant_balance(api)
    assert (balance["credits_pending"], balance["credits_posted"]) == (0, 3000)
    assert balance["debits_posted"] == done["fee"]
    assert fees_account(api)["credits_posted"] == done["fee"]


def test_capture_more_than_authorised_is_refused(api: Api) -> None:
    pi = authorise(api, 5000)
    path = f"/v1/payment_intents/{pi['id']}/capture"
    assert_error(api.post(path, {"amount_to_capture": 5001}), 400, "amount_too_large",
                 "amount_to_capture")  # fmt: skip
    for bad in (0, -1, "100", 1.5, True):
        assert_error(api.post(path, {"amount_to_capture": bad}), 400, "parameter_invalid",
                     "amount_to_capture")  # fmt: skip
    assert api.intent(pi["id"])["status"] == "requires_capture"


def test_capture_of_an_automatic_payment_is_refused(api: Api) -> None:
    pi = api.pay(VISA).json()
    r = api.post(f"/v1/payment_intents/{pi['id']}/capture")
    assert_error(r, 400, "payment_intent_unexpected_state")


def test_cancel_of_an_authorisation_voids_it(api: Api, env: Issuer) -> None:
    pi = authorise(api, 5000)
    r = api.post(f"/v1/payment_intents/{pi['id']}/cancel", {"cancellation_reason": "abandoned"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "canceled" and done["cancellation_reason"] == "abandoned"
    assert (done["amount_capturable"], done["amount_received"]) == (0, 0)
    assert env.balances(VISA, "USD") == (ISSUER_BALANCE_MINOR,) * 2
    balance = merchant_balance(api)
    assert balance["credits_pending"] == balance["credits_posted"] == 0
    assert_error(api.post(f"/v1/payment_intents/{pi['id']}/capture"), 400,
                 "payment_intent_unexpected_state")  # fmt: skip


def test_cancel_of_a_succeeded_intent_is_refused(api: Api) -> None:
    pi = api.pay(VISA).json()
    r = api.post(f"/v1/payment_intents/{pi['id']}/cancel")
    assert_error(r, 400, "payment_intent_unexpected_state")
    assert api.intent(pi["id"])["status"] == "succeeded"


def test_cancel_of_an_unconfirmed_intent(api: Api) -> None:
    pi = api.post("/v1/payment_intents", {"amount": 1000, "currency": "usd"}).json()
    r = api.post(f"/v1/payment_intents/{pi['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["cancellation_reason"] == "requested_by_customer"
    r = api.post(f"/v1/payment_intents/{pi['id']}/confirm", {"payment_method_data": card(VISA)})
    assert_error(r, 400, "payment_intent_unexpected_state")


# -- fees -----------------------------------------------------------------------------------


def test_fee_quote_before_and_fee_after_confirmation(api: Api) -> None:
    r = api.post("/v1/payment_intents", {"amount": 10_000, "currency": "usd"})
    assert r.status_code == 200, r.text
    pi = r.json()
    assert pi["status"] == "requires_payment_method" and pi["fee"] is None
    assert pi["fee_quote"] == {
        "card": fee(10_000, 29, 30), "card_present": fee(10_000, 27, 5),
        "wallet": fee(10_000, 10, 0), "bank_transfer": fee(10_000, 8, 0),
        "qr": fee(10_000, 6, 0),
    }  # fmt: skip
    r = api.post(f"/v1/payment_intents/{pi['id']}/confirm", {"payment_method_data": card(VISA)})
    assert r.status_code == 200, r.text
    assert r.json()["fee"] == pi["fee_quote"]["card"] == 320
    balance = merchant_balance(api)
    assert balance["credits_posted"] - balance["debits_posted"] == 10_000 - 320
    assert fees_account(api)["credits_posted"] == 320


def test_cross_border_card_pays_the_surcharge(api: Api) -> None:
    r = api.pay(GB_VISA, amount=10_000)
    assert r.status_code == 200, r.text
    pi = r.json()
    assert pi["payment_method"]["card"]["country"] == "GB"
    assert pi["fee"] == fee(10_000, 29 + 15, 30) == 470
    domestic = api.pay(VISA, amount=10_000).json()
    assert domestic["payment_method"]["card"]["country"] == "US"
    assert domestic["fee"] == 320


def test_a_payment_in_another_currency_pays_percentages_only(api: Api) -> None:
    r = api.pay(VISA, amount=10_000, currency="eur")
    assert r.status_code == 200, r.text
    assert r.json()["fee"] == fee(10_000, 29, 0)
    assert merchant_balance(api, "EUR")["credits_posted"] == 10_000


def test_a_merchant_fee_schedule_is_used(app_client: Any) -> None:
    api = new_merchant(app_client, fee_schedule={"card": {"percent": "1.5", "fixed": 10}})
    assert api.pay(VISA, amount=10_000).json()["fee"] == 160


# -- authentication and modes ---------------------------------------------------------------


def test_no_key_is_401(api: Api) -> None:
    r = api.client.post("/v1/payment_intents", json={"amount": 1000, "currency": "usd"})
    assert_error(r, 401, "authentication_required")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_error(api.client.get("/v1/payment_intents"), 401, "authentication_required")


def test_wrong_keys_are_401(api: Api) -> None:
    body = {"amount": 1000, "currency": "usd"}
    for key in ("sk_test_nope", "rk_admin_nope", ADMIN["Authorization"].split()[1], "x" * 300):
        r = api.client.post("/v1/payment_intents", json=body,
                            headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert_error(r, 401, "invalid_api_key")


def test_publishable_key_is_refused(api: Api) -> None:
    pk = api.merchant["publishable_key"]
    assert pk.startswith("pk_test_")
    r = api.client.get("/v1/payment_intents", headers={"Authorization": f"Bearer {pk}"})
    assert_error(r, 401, "secret_key_required")


def test_a_live_key_does_not_see_test_objects(api: Api) -> None:
    pi = api.pay(VISA).json()
    r = api.admin(f"/v1/merchants/{api.id}/api_keys", {"livemode": True})
    assert r.status_code == 200, r.text
    live_key = r.json()["key"]
    assert live_key.startswith("sk_live_") and r.json()["livemode"] is True
    live = Api(api.client, api.merchant, live_key)
    assert_error(live.get(f"/v1/payment_intents/{pi['id']}"), 404, "resource_missing")
    assert live.get("/v1/payment_intents").json()["data"] == []
    for action in ("confirm", "capture", "cancel"):
        assert_error(live.post(f"/v1/payment_intents/{pi['id']}/{action}"), 404,
                     "resource_missing")  # fmt: skip
    made = live.post("/v1/payment_intents", {"amount": 1000, "currency": "usd"}).json()
    assert made["livemode"] is True
    assert_error(api.get(f"/v1/payment_intents/{made['id']}"), 404, "resource_missing")


def test_another_merchants_intent_is_missing(api: Api) -> None:
    pi = api.pay(VISA).json()
    other = new_merchant(api.client, name="Other")
    assert_error(other.get(f"/v1/payment_intents/{pi['id']}"), 404, "resource_missing")
    assert_error(other.post(f"/v1/payment_intents/{pi['id']}/cancel"), 404, "resource_missing")
    assert other.get("/v1/payment_intents").json()["data"] == []


def test_operator_routes_refuse_merchant_keys(api: Api) -> None:
    body = {"name": "x", "country": "US", "default_currency": "usd"}
    assert_error(api.client.post("/v1/merchants", json=body), 401, "authentication_required")
    for path, payload in (("/v1/merchants", body), ("/v1/customers", {})):
        r = api.client.post(path, json=payload, headers=api.auth)
        assert r.status_code in (401, 403) and set(r.json()) == {"error"}, r.text
    assert api.get("/v1/ledger/accounts").status_code in (401, 403)


def test_a_merchant_key_on_an_operator_route_is_403_admin_required(api: Api) -> None:
    r = api.client.post("/v1/customers", json={}, headers=api.auth)
    assert_error(r, 403, "admin_required")


# -- listing --------------------------------------------------------------------------------


def test_pagination(api: Api) -> None:
    made = [
        api.post("/v1/payment_intents", {"amount": 1000 + i, "currency": "usd"}).json()["id"]
        for i in range(7)
    ]
    newest_first = made[::-1]
    page = api.get("/v1/payment_intents", limit=3).json()
    assert page["object"] == "list" and page["url"] == "/v1/payment_intents"
    assert [p["id"] for p in page["data"]] == newest_first[:3] and page["has_more"] is True
    page = api.get("/v1/payment_intents", limit=3, starting_after=newest_first[2]).json()
    assert [p["id"] for p in page["data"]] == newest_first[3:6] and page["has_more"] is True
    page = api.get("/v1/payment_intents", limit=3, starting_after=newest_first[5]).json()
    assert [p["id"] for p in page["data"]] == newest_first[6:] and page["has_more"] is False
    page = api.get("/v1/payment_intents", limit=2, ending_before=newest_first[4]).json()
    assert [p["id"] for p in page["data"]] == newest_first[2:4] and page["has_more"] is True
    page = api.get("/v1/payment_intents", limit=100).json()
    assert [p["id"] for p in page["data"]] == newest_first and page["has_more"] is False


def test_pagination_errors(api: Api) -> None:
    pi = api.post("/v1/payment_intents", {"amount": 1000, "currency": "usd"}).json()
    other = new_merchant(api.client, name="Other")
    assert_error(other.get("/v1/payment_intents", starting_after=pi["id"]), 400,
                 "resource_missing", "starting_after")  # fmt: skip
    assert_error(api.get("/v1/payment_intents", ending_before="pi_nope"), 400,
                 "resource_missing", "ending_before")  # fmt: skip
    assert_error(api.get("/v1/payment_intents", starting_after=pi["id"], ending_before=pi["id"]),
                 400, "parameter_invalid", "ending_before")  # fmt: skip
    for limit in (0, 101, "x", -1):
        assert_error(api.get("/v1/payment_intents", limit=limit), 400, "parameter_invalid",
                     "limit")  # fmt: skip
    assert_error(api.get("/v1/payment_intents", starting_after="x" * 256), 400,
                 "parameter_invalid", "starting_after")  # fmt: skip


# -- card data checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code", "param"),
    [
        ({"number": "4242424242424241"}, "invalid_number", "payment_method_data[card][number]"),
        ({"number": "42"}, "invalid_number", "payment_method_data[card][number]"),
        ({"exp_month": 13}, "invalid_expiry_month", "payment_method_data[card][exp_month]"),
        ({"exp_year": 1999}, "invalid_expiry_year", "payment_method_data[card][exp_year]"),
        ({"exp_year": 2020}, "expired_card", "payment_method_data[card][exp_month]"),
        ({"cvc": "12"}, "invalid_cvc", "payment_method_data[card][cvc]"),
        ({"number": None}, "parameter_missing", "payment_method_data[card][number]"),
    ],
)
def test_card_data_errors(api: Api, fields: dict[str, Any], code: str, param: str) -> None:
    method = card(**{"number": VISA, **fields})
    r = api.post("/v1/payment_intents", {"amount": 1000, "currency": "usd", "confirm": True,
                                         "payment_method_data": method})  # fmt: skip
    err = assert_error(r, 400, code, param)
    assert VISA not in r.text and "4242424242424241" not in err["message"]
    assert api.get("/v1/payment_intents").json()["data"] == []


# -- the risk engine's own challenge --------------------------------------------------------


def test_a_risk_challenged_card_payment_completes_with_the_code(api: Api) -> None:
    """Many payments from one client make the risk engine ask for a code (test mode shows it);
    the right code must let the payment through."""
    for i in range(80):
        pi = api.pay(VISA, amount=1000 + i).json()
        if pi["status"] == "requires_action":
            break
    else:
        pytest.skip("the risk engine never challenged a payment")
    assert pi["next_action"]["verify_with_code"]["reason"] == "risk"
    code = pi["next_action"]["verify_with_code"]["test_code"]
    r = api.post(f"/v1/payment_intents/{pi['id']}/verify_challenge", {"code": code})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded"


# -- malformed input: always a 4xx in the error shape ---------------------------------------

JUNK = [b"", b"null", b"[]", b"1", b'"x"', b"{", b"true", b'{"x": 1}', b'{"amount": 1e400}',
        b"[" * 100_000, b'{"a":' * 5000, b"\xff\xfe"]  # fmt: skip
VALUES: list[Any] = [None, -1, 0, 1.5, True, 10**30, "", "x" * 5000, [], {}, "\x00", [1],
                     {"a": {}}, "4242424242424242"]  # fmt: skip


def shaped_4xx(r: Any) -> bool:
    try:
        body = r.json()
    except ValueError:
        return False
    return 400 <= r.status_code < 500 and isinstance(body, dict) and set(body) == {"error"}


def sweep(api: Api, headers: dict[str, str], path: str, fields: list[str]) -> list[str]:
    """POST junk and every bad value of every field; the answers that are not a shaped 4xx
    (a 200 is fine: some values are valid)."""
    bodies = list(JUNK) + [json_bytes({f: v}) for f in fields for v in VALUES]
    wrong = []
    for raw in bodies:
        r = api.client.post(path, content=raw, headers=headers)
        if r.status_code != 200 and not shaped_4xx(r):
            wrong.append(f"{r.status_code} POST {path} {raw[:80]!r}: {r.text[:120]}")
    return wrong


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


MERCHANT_FIELDS = ["name", "country", "default_currency", "mcc", "city", "fee_schedule"]
USD_1000 = b'{"amount": 1000, "currency": "usd", '


def test_malformed_requests_never_500(api: Api) -> None:
    pi = api.post("/v1/payment_intents", {"amount": 1000, "currency": "usd"}).json()["id"]
    held = authorise(api)["id"]
    action = api.pay(THREE_DS[0]).json()["id"]
    cus = api.admin("/v1/customers", {}).json()["id"]
    mine, admin = api.auth, ADMIN
    intent_fields = ["amount", "currency", "capture_method", "confirm", "customer",
                     "description", "metadata", "payment_method_data", "return_url"]  # fmt: skip
    cases = [
        (mine, "/v1/payment_intents", intent_fields),
        (mine, f"/v1/payment_intents/{pi}/confirm", ["payment_method_data", "return_url"]),
        (mine, f"/v1/payment_intents/{held}/capture", ["amount_to_capture"]),
        (mine, f"/v1/payment_intents/{pi}/cancel", ["cancellation_reason"]),
        (mine, f"/v1/payment_intents/{action}/verify_challenge", ["code"]),
        (mine, "/v1/payment_intents/pi_nope/confirm", []),
        (mine, "/v1/payment_intents/" + "x" * 3000 + "/cancel", []),
        (admin, "/v1/merchants", MERCHANT_FIELDS),
        (admin, f"/v1/merchants/{api.id}/api_keys", ["livemode", "type"]),
        (admin, "/v1/customers", ["name", "email", "country", "kyc_tier"]),
        (admin, f"/v1/customers/{cus}/mandates", ["merchant"]),
        (admin, f"/v1/customers/{cus}/topups", ["amount", "currency"]),
        (admin, f"/v1/customers/{cus}/withdrawals", ["amount", "currency"]),
        (admin, f"/v1/customers/{cus}/transfers", ["amount", "currency", "to"]),
    ]
    wrong = [w for headers, path, fields in cases for w in sweep(api, headers, path, fields)]
    methods: list[Any] = [
        "card", {"type": "card"}, {"type": "card", "card": "x"}, {"type": "nope"},
        {"type": "card", "card": {"number": [1]}}, {"type": "wallet", "wallet": "x"},
        {"type": "wallet", "wallet": {"customer": "a", "payment_code": "1"}},
        {"type": "card_present", "card_present": {"number": VISA, "exp_month": 12,
                                                  "exp_year": 2034, "entry_mode": "x"}},
        {"type": "wallet", "wallet": {"customer": 1}, "billing_details": {"address": "x"}},
        {**card(VISA), "billing_details": {"address": {"country": "ZZ"}}},
    ]  # fmt: skip
    schedules: list[Any] = [
        "x", {"foo": 1}, {"card": "x"}, {"card": {"percent": "1", "x": 1}},
        {"cross_border_percent": []}, {"dispute_fee": -1},
        *({"card": {"percent": p}} for p in ("NaN", "sNaN", "1e999999999", "Infinity", "-1")),
        *({"card": {"fixed": f}} for f in (-1, 1.5, "1", 10**10)),
    ]  # fmt: skip
    for method in methods:
        body = {"amount": 1000, "currency": "usd", "confirm": True, "payment_method_data": method}
        r = api.post("/v1/payment_intents", body)
        if not shaped_4xx(r):
            wrong.append(f"{r.status_code} method {method}: {r.text[:120]}")
    for schedule in schedules:
        r = api.admin("/v1/merchants", {"name": "x", "country": "US", "default_currency": "usd",
                                        "fee_schedule": schedule})  # fmt: skip
        if not shaped_4xx(r):
            wrong.append(f"{r.status_code} fee_schedule {schedule}: {r.text[:120]}")
    for params in ({"limit": "x"}, {"limit": 10**30}, {"starting_after": "\x00"},
                   {"ending_before": "x" * 300}, {"limit": "1.5"}):  # fmt: skip
        r = api.client.get("/v1/payment_intents", params=params, headers=mine)
        if not shaped_4xx(r):
            wrong.append(f"{r.status_code} list {params}: {r.text[:120]}")
    for headers, path in ((mine, "/v1/payment_intents/%00"), (mine, "/v1/payment_intents/%ff"),
                          (admin, "/v1/customers/%00"), (admin, "/v1/merchants/%00"),
                          (admin, "/v1/customers/%00/balance")):  # fmt: skip
        r = api.client.get(path, headers=headers)
        if not shaped_4xx(r):
            wrong.append(f"{r.status_code} GET {path}: {r.text[:120]}")
    assert wrong == []


@pytest.mark.parametrize(
    ("admin", "path", "raw"),
    [
        (False, "/v1/payment_intents", USD_1000 + b'"description": "\\ud800"}'),
        (False, "/v1/payment_intents", USD_1000 + b'"metadata": {"a": "\\udfff"}}'),
        (False, "/v1/payment_intents", USD_1000 + b'"customer": "\\ud800"}'),
        (True, "/v1/customers", b'{"name": "\\ud800"}'),
        (True, "/v1/merchants", b'{"name": "\\ud800", "country": "US", "default_currency": "usd"}'),
    ],
)
def test_lone_surrogates_are_a_400(api: Api, admin: bool, path: str, raw: bytes) -> None:
    r = api.client.post(path, content=raw, headers=ADMIN if admin else api.auth)
    assert shaped_4xx(r), r.text


# -- capture and cancel racing --------------------------------------------------------------


def luhn(prefix: str) -> str:
    """PREFIX with its Luhn check digit: an ordinary sandbox cardholder."""
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return prefix + str((10 - total % 10) % 10)


def test_capture_and_cancel_racing_agree_with_the_issuer(api: Api, env: Issuer) -> None:
    assert_error(api.get("/v1/payment_intents/pi_warm_up"), 404, "resource_missing")
    wrong = []
    for i in range(8):
        number = luhn(f"41111111111{i:04d}")
        pi = authorise(api, 5000, number)
        path = f"/v1/payment_intents/{pi['id']}"
        with ThreadPoolExecutor(2) as pool:
            capture = pool.submit(api.post, f"{path}/capture")
            cancel = pool.submit(api.post, f"{path}/cancel")
            capture.result(), cancel.result()
        status = api.intent(pi["id"])["status"]
        charged = ISSUER_BALANCE_MINOR - env.balances(number, "USD")[0]
        if (status, charged) not in (("succeeded", 5000), ("canceled", 0)):
            wrong.append((status, charged))
    assert wrong == []


def test_create_with_a_card_then_confirm(api: Api, env: Issuer) -> None:
    r = api.post("/v1/payment_intents", {"amount": 1000, "currency": "usd",
                                         "payment_method_data": card(VISA)})  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "requires_confirmation", r.text
    assert r.json()["fee"] == fee(1000, 29, 30)
    done = api.post(f"/v1/payment_intents/{r.json()['id']}/confirm")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "succeeded"
    assert env.balances(VISA, "USD")[0] == ISSUER_BALANCE_MINOR - 1000


def test_an_unreachable_issuer_is_issuer_not_available(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("RONGPAY_ISSUER", f"127.0.0.1:{port}")
    api.client.app.state.gateway = None  # built again, now towards a port nobody answers
    r = api.pay(VISA)
    assert r.status_code in (402, 503), r.text
    err = r.json()["error"]
    assert "issuer_not_available" in (err["code"], err.get("decline_code"))
    assert merchant_balance(api)["credits_posted"] == 0


def test_three_d_secure_then_partial_capture(api: Api, env: Issuer) -> None:
    pi = api.pay(THREE_DS[0], amount=5000, capture_method="manual").json()
    code = pi["next_action"]["verify_with_code"]["test_code"]
    r = api.post(f"/v1/payment_intents/{pi['id']}/verify_challenge", {"code": code})
    assert r.status_code == 200 and r.json()["status"] == "requires_capture", r.text
    r = api.post(f"/v1/payment_intents/{pi['id']}/capture", {"amount_to_capture": 3000})
    assert r.status_code == 200 and r.json()["amount_received"] == 3000, r.text
    assert env.balances(THREE_DS[0], "USD") == (ISSUER_BALANCE_MINOR - 3000,) * 2


def test_a_declined_manual_intent_retried_with_another_card(api: Api, env: Issuer) -> None:
    mastercard = "5555555555554444"
    for then in ("capture", "cancel"):
        r = api.pay("4000000000000002", amount=4000, capture_method="manual")
        pi = assert_error(r, 402, "card_declined")["payment_intent"]
        r = api.post(f"/v1/payment_intents/{pi['id']}/confirm",
                     {"payment_method_data": card(mastercard)})  # fmt: skip
        assert r.status_code == 200 and r.json()["status"] == "requires_capture", r.text
        assert api.post(f"/v1/payment_intents/{pi['id']}/{then}").status_code == 200
    assert env.balances(mastercard, "USD") == (ISSUER_BALANCE_MINOR - 4000,) * 2
    balance = merchant_balance(api)
    assert (balance["credits_posted"], balance["credits_pending"]) == (4000, 0)
    assert balance["debits_posted"] == fee(4000, 29, 30)


def test_concurrent_confirms_charge_once(api: Api, env: Issuer) -> None:
    assert_error(api.get("/v1/payment_intents/pi_warm_up"), 404, "resource_missing")
    pi = api.post("/v1/payment_intents", {"amount": 1500, "currency": "usd"}).json()
    body = {"payment_method_data": card(VISA)}
    path = f"/v1/payment_intents/{pi['id']}/confirm"
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(api.post, [path] * 10, [body] * 10))
    assert sum(r.status_code == 200 for r in answers) >= 1
    for r in answers:
        if r.status_code != 200:
            assert_error(r, 400, "payment_intent_unexpected_state")
    assert api.intent(pi["id"])["status"] == "succeeded"
    assert env.balances(VISA, "USD") == (ISSUER_BALANCE_MINOR - 1500,) * 2
    assert merchant_balance(api)["credits_posted"] == 1500


@pytest.mark.parametrize("raw", [b"[]", b"false", b"0", b'""'])
def test_a_body_that_is_not_an_object_is_refused(api: Api, raw: bytes) -> None:
    pi = authorise(api)
    r = api.client.post(f"/v1/payment_intents/{pi['id']}/capture", content=raw, headers=api.auth)
    assert_error(r, 400, "parameter_invalid")
    assert api.intent(pi["id"])["status"] == "requires_capture"


def test_create_reports_the_first_bad_parameter_in_a_fixed_order(api: Api) -> None:
    """amount/currency, then the other fields, then the payment method, then return_url."""
    bad_method = {"type": "nope"}
    r = api.post("/v1/payment_intents", {"amount": 0, "currency": "usd",
                                         "payment_method_data": bad_method,
                                         "return_url": "javascript:x"})  # fmt: skip
    assert assert_error(r, 400, "amount_too_small")["param"] == "amount"
    r = api.post("/v1/payment_intents", {"amount": 500, "currency": "usd",
                                         "payment_method_data": bad_method,
                                         "return_url": "javascript:x"})  # fmt: skip
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "payment_method_data[type]"
    r = api.post("/v1/payment_intents", {"amount": 500, "currency": "usd",
                                         "return_url": "javascript:x"})  # fmt: skip
    assert r.json()["error"]["param"] == "return_url"
