"""Idempotency keys end to end: replays, conflicting reuse, scoping, and 20 threads racing
with one key (exactly one payment, every answer the same or 409)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .conftest import (
    ADMIN,
    ISSUER_BALANCE_MINOR,
    Api,
    Issuer,
    assert_error,
    card,
    merchant_balance,
    new_merchant,
)

VISA = "4242424242424242"
KEY = "Idempotency-Key"


def intents(api: Api) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = api.get("/v1/payment_intents", limit=100).json()["data"]
    return data


def payment(amount: int = 2500, number: str = VISA, **extra: Any) -> dict[str, Any]:
    return {"amount": amount, "currency": "usd", "confirm": True,
            "payment_method_data": card(number), **extra}  # fmt: skip


def test_replay_of_a_create_returns_the_same_answer(api: Api) -> None:
    body = {"amount": 1000, "currency": "usd", "metadata": {"order": "42"}}
    first = api.post("/v1/payment_intents", body, **{KEY: "order-42"})
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    again = api.post("/v1/payment_intents", body, **{KEY: "order-42"})
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert [i["id"] for i in intents(api)] == [first.json()["id"]]


def test_replay_of_a_card_payment_charges_once(api: Api, env: Issuer) -> None:
    first = api.post("/v1/payment_intents", payment(), **{KEY: "pay-1"})
    assert first.status_code == 200 and first.json()["status"] == "succeeded", first.text
    again = api.post("/v1/payment_intents", payment(), **{KEY: "pay-1"})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(intents(api)) == 1
    assert env.balances(VISA, "USD")[0] == ISSUER_BALANCE_MINOR - 2500
    assert merchant_balance(api)["credits_posted"] == 2500


def test_replay_of_a_decline_is_the_same_402(api: Api) -> None:
    first = api.post("/v1/payment_intents", payment(number="4000000000000002"), **{KEY: "d"})
    assert_error(first, 402, "card_declined")
    again = api.post("/v1/payment_intents", payment(number="4000000000000002"), **{KEY: "d"})
    assert_error(again, 402, "card_declined")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(intents(api)) == 1


def test_same_key_with_other_parameters_is_refused(api: Api) -> None:
    assert api.post("/v1/payment_intents", {"amount": 1000, "currency": "usd"},
                    **{KEY: "k"}).status_code == 200  # fmt: skip
    r = api.post("/v1/payment_intents", {"amount": 1001, "currency": "usd"}, **{KEY: "k"})
    assert_error(r, 400, "idempotency_error", KEY)
    pi = intents(api)[0]
    r = api.post(f"/v1/payment_intents/{pi['id']}/cancel", None, **{KEY: "k"})
    assert_error(r, 400, "idempotency_error", KEY)
    assert len(intents(api)) == 1
    assert api.intent(pi["id"])["status"] == "requires_payment_method"


def test_bad_keys_are_refused(api: Api) -> None:
    body = {"amount": 1000, "currency": "usd"}
    for bad in ("", "   ", "k" * 256):
        r = api.post("/v1/payment_intents", body, **{KEY: bad})
        assert_error(r, 400, "idempotency_key_invalid", KEY)
    assert api.post("/v1/payment_intents", body, **{KEY: "k" * 255}).status_code == 200
    assert len(intents(api)) == 1


def test_keys_are_scoped_per_merchant_and_mode(api: Api) -> None:
    body = {"amount": 1000, "currency": "usd"}
    mine = api.post("/v1/payment_intents", body, **{KEY: "shared"}).json()
    other = new_merchant(api.client, name="Other")
    theirs = other.post("/v1/payment_intents", body, **{KEY: "shared"})
    assert theirs.status_code == 200 and "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != mine["id"] and theirs.json()["merchant"] == other.id
    live_key = api.admin(f"/v1/merchants/{api.id}/api_keys", {"livemode": True}).json()["key"]
    live = Api(api.client, api.merchant, live_key)
    in_live = live.post("/v1/payment_intents", body, **{KEY: "shared"})
    assert in_live.status_code == 200 and "idempotent-replayed" not in in_live.headers
    assert in_live.json()["livemode"] is True
    assert [i["id"] for i in intents(api)] == [mine["id"]]


def test_cancel_replay(api: Api) -> None:
    pi = api.post("/v1/payment_intents", {"amount": 1000, "currency": "usd"}).json()
    path = f"/v1/payment_intents/{pi['id']}/cancel"
    first = api.post(path, {"cancellation_reason": "duplicate"}, **{KEY: "c"})
    assert first.status_code == 200, first.text
    again = api.post(path, {"cancellation_reason": "duplicate"}, **{KEY: "c"})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


def test_confirm_replay(api: Api) -> None:
    pi = api.post("/v1/payment_intents", {"amount": 1000, "currency": "usd"}).json()
    path = f"/v1/payment_intents/{pi['id']}/confirm"
    body = {"payment_method_data": card(VISA)}
    first = api.post(path, body, **{KEY: "confirm-1"})
    assert first.status_code == 200, first.text
    again = api.post(path, body, **{KEY: "confirm-1"})
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"


def test_capture_replay(api: Api) -> None:
    pi = api.post("/v1/payment_intents", payment(capture_method="manual")).json()
    path = f"/v1/payment_intents/{pi['id']}/capture"
    first = api.post(path, {"amount_to_capture": 2000}, **{KEY: "capture-1"})
    assert first.status_code == 200, first.text
    again = api.post(path, {"amount_to_capture": 2000}, **{KEY: "capture-1"})
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"


def test_wallet_topup_replay(api: Api) -> None:
    cus = api.admin("/v1/customers", {}).json()["id"]
    body = {"amount": 500, "currency": "usd"}
    first = api.admin(f"/v1/customers/{cus}/topups", body, **{KEY: "t"})
    again = api.admin(f"/v1/customers/{cus}/topups", body, **{KEY: "t"})
    assert first.status_code == again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    r = api.client.get(f"/v1/customers/{cus}/balance", headers=ADMIN)
    assert r.json()["balances"][0]["available"] == 500


# -- racing duplicates ----------------------------------------------------------------------


def race(api: Api, path: str, body: Any, key: str, n: int = 20) -> list[Any]:
    # Build the app's gateway first, so the race is about the key and not the app's start.
    assert_error(api.get("/v1/payment_intents/pi_warm_up"), 404, "resource_missing")
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: api.post(path, body, **{KEY: key}), range(n)))


def check_race(answers: list[Any]) -> dict[str, Any]:
    """Every answer is the one first answer or 409 idempotency_key_in_use; returns the first."""
    done = [r for r in answers if r.status_code != 409]
    assert done, "every request was told the key is in use"
    for r in answers:
        if r.status_code == 409:
            assert_error(r, 409, "idempotency_key_in_use", KEY)
    first = done[0].json()
    for r in done:
        assert r.status_code == 200, r.text
        assert r.json() == first, {
            k: (first.get(k), r.json().get(k)) for k in first if first.get(k) != r.json().get(k)
        }
    assert sum("idempotent-replayed" not in r.headers for r in done) <= 1
    body: dict[str, Any] = first
    return body


def test_twenty_threads_one_key_create(api: Api) -> None:
    first = check_race(race(api, "/v1/payment_intents", {"amount": 1000, "currency": "usd"}, "r"))
    assert [i["id"] for i in intents(api)] == [first["id"]]


def test_twenty_threads_one_key_card_payment(api: Api, env: Issuer) -> None:
    first = check_race(race(api, "/v1/payment_intents", payment(), "card-race"))
    assert first["status"] == "succeeded"
    assert [i["id"] for i in intents(api)] == [first["id"]]
    assert env.balances(VISA, "USD") == (ISSUER_BALANCE_MINOR - 2500,) * 2
    assert merchant_balance(api)["credits_posted"] == 2500


def test_twenty_threads_one_key_topup(api: Api) -> None:
    cus = api.admin("/v1/customers", {}).json()["id"]
    path = f"/v1/customers/{cus}/topups"
    assert_error(api.get("/v1/payment_intents/pi_warm_up"), 404, "resource_missing")
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: api.admin(path, {"amount": 700, "currency": "usd"},
                                                    **{KEY: "top"}), range(20)))  # fmt: skip
    check_race(answers)
    r = api.client.get(f"/v1/customers/{cus}/balance", headers=ADMIN)
    assert r.json()["balances"][0]["available"] == 700


def test_a_refused_request_does_not_keep_its_key(api: Api) -> None:
    cus = api.admin("/v1/customers", {}).json()["id"]
    body = {"amount": 1000, "currency": "usd", "confirm": True,
            "payment_method_data": {"type": "wallet", "wallet": {"customer": cus}}}  # fmt: skip
    assert_error(api.post("/v1/payment_intents", body, **{KEY: "w"}), 400, "mandate_missing")
    assert api.admin(f"/v1/customers/{cus}/topups", {"amount": 5000, "currency": "usd"}).is_success
    assert api.admin(f"/v1/customers/{cus}/mandates", {"merchant": api.id}).is_success
    r = api.post("/v1/payment_intents", body, **{KEY: "w"})
    assert r.status_code == 200 and "idempotent-replayed" not in r.headers, r.text


def test_racing_capture_retries_are_replays_or_409(api: Api, env: Issuer) -> None:
    assert_error(api.get("/v1/payment_intents/pi_warm_up"), 404, "resource_missing")
    for i in range(3):
        pi = api.post("/v1/payment_intents", payment(5000, capture_method="manual")).json()
        assert pi["status"] == "requires_capture", pi
        done = check_race(race(api, f"/v1/payment_intents/{pi['id']}/capture", None, f"c{i}", 10))
        assert done["status"] == "succeeded"
    assert env.balances(VISA, "USD")[0] == ISSUER_BALANCE_MINOR - 15_000


def test_a_failed_capture_can_be_retried_with_its_key(api: Api, env: Issuer) -> None:
    pi = api.post("/v1/payment_intents", payment(3000, capture_method="manual")).json()
    assert pi["status"] == "requires_capture", pi
    env.call(env.server.close())  # the issuer goes away: captures answer 503 capture_failed
    path = f"/v1/payment_intents/{pi['id']}/capture"
    assert_error(api.post(path, None, **{KEY: "cap"}), 503, "capture_failed")
    again = api.post(path, None, **{KEY: "cap"})
    assert again.status_code != 409, again.text
    assert api.intent(pi["id"])["status"] == "requires_capture"
