"""The sandbox bank's (simulated) refund instruction over real HTTP: only a paid order, in its
currency, never past what was paid; idempotent on the reference; pending, then paid out (or
failed for a closed account) and called back, signed; the refusals and their codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from rongpay.payments.channels.bank import BankChannel, BankRefundCallback
from rongpay.security.signing import verify
from rongpay.sim.bank import BankConfig
from rongpay.sim.bank_callbacks import DeliveryPolicy

from .test_bank import SECRET, Receiver, bank_client, order_body, root

WAIT_S = 30.0  # a bound on waiting, never a pass condition


def held_config(**changes: Any) -> BankConfig:
    """Refunds are paid out only when the test says so (POST /refunds/{id}/settle)."""
    policy = DeliveryPolicy(delay_s=0, latency_ms=0, retry_base_s=0.02)
    return BankConfig(secret=SECRET, latency_ms=0, delivery=policy, seed=7,
                      refund_delay_s=None, **changes)  # fmt: skip


@pytest.fixture
def bank() -> Iterator[httpx.Client]:
    with bank_client(held_config()) as client:
        yield client


def paid_order(bank: httpx.Client, callback_url: str = "http://127.0.0.1:9/cb",
               reference: str = "pi_1", amount: int = 1234) -> str:  # fmt: skip
    body = order_body(reference, callback_url, amount_minor=amount)
    order_id = str(bank.post("/orders", json=body).json()["id"])
    r = bank.post(f"/orders/{order_id}/decide", json={"decision": "approve"})
    assert r.status_code == 200, r.text
    return order_id


def refund(bank: httpx.Client, order_id: str, reference: str = "re_1", amount: int = 500,
           currency: str = "USD") -> httpx.Response:  # fmt: skip
    body = {"reference": reference, "amount_minor": amount, "currency": currency}
    return bank.post(f"/orders/{order_id}/refunds", json=body)


def code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def test_a_refund_is_pending_then_paid_out_and_called_back_signed(bank: httpx.Client) -> None:
    with Receiver() as receiver:
        order = paid_order(bank, receiver.url)
        receiver.wait_for(1)  # the order's own callback
        r = refund(bank, order)
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["id"].startswith("br_") and created["simulation"] is True
        assert (created["status"], created["order"], created["reference"]) == (
            "pending", order, "re_1")  # fmt: skip
        assert bank.get(f"/refunds/{created['id']}").json()["status"] == "pending"
        settled = bank.post(f"/refunds/{created['id']}/settle").json()
        assert settled["status"] == "succeeded" and settled["failure_code"] is None
        (_, got) = receiver.wait_for(2)
    assert verify(got.body, got.headers["Bank-Signature"], [SECRET]) > 0
    payload = orjson.loads(got.body)
    assert payload["type"] == "refund" and payload["refund"] == created["id"]
    channel = BankChannel("http://unused", SECRET)
    cb = channel.parse_callback(got.body, got.headers["Bank-Signature"])
    assert isinstance(cb, BankRefundCallback)
    assert (cb.refund, cb.order, cb.reference, cb.status, cb.amount_minor, cb.currency) == (
        created["id"], order, "re_1", "succeeded", 500, "USD")  # fmt: skip
    again = bank.post(f"/refunds/{created['id']}/settle")
    assert code(again) == (409, "already_decided")
    listed = bank.get(f"/orders/{order}").json()["refunds"]
    assert [x["id"] for x in listed] == [created["id"]]


def test_the_reference_names_one_refund(bank: httpx.Client) -> None:
    order = paid_order(bank)
    first = refund(bank, order).json()
    again = refund(bank, order)
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert code(refund(bank, order, amount=501)) == (409, "reference_conflict")
    assert [x["id"] for x in bank.get(f"/orders/{order}").json()["refunds"]] == [first["id"]]


def test_several_refunds_up_to_what_was_paid(bank: httpx.Client) -> None:
    order = paid_order(bank, amount=1000)
    assert refund(bank, order, "re_1", 600).status_code == 201
    over = refund(bank, order, "re_2", 401)
    assert code(over) == (400, "refund_exceeds_payment")
    assert over.json()["error"]["param"] == "amount_minor"
    assert refund(bank, order, "re_2", 400).status_code == 201
    assert code(refund(bank, order, "re_3", 1)) == (400, "refund_exceeds_payment")


def test_a_failed_refund_frees_its_amount(bank: httpx.Client) -> None:
    order = paid_order(bank, amount=1000)
    first = refund(bank, order, "re_1", 1000).json()
    assert bank.post(f"/orders/{order}/close_account").status_code == 200
    failed = bank.post(f"/refunds/{first['id']}/settle").json()
    assert (failed["status"], failed["failure_code"]) == ("failed", "account_closed")
    assert refund(bank, order, "re_2", 1000).status_code == 201  # nothing was paid back


def test_refusals(bank: httpx.Client) -> None:
    order = bank.post("/orders", json=order_body()).json()["id"]
    assert code(refund(bank, order)) == (409, "order_not_paid")
    r = bank.post(f"/orders/{order}/decide", json={"decision": "decline"})
    assert r.status_code == 200
    assert code(refund(bank, order)) == (409, "order_not_paid")
    paid = paid_order(bank, reference="pi_2")
    assert code(refund(bank, paid, currency="EUR")) == (400, "currency_mismatch")
    assert code(refund(bank, paid, currency="XXQ")) == (400, "unknown_currency")
    assert code(refund(bank, "bo_" + "0" * 24)) == (404, "order_not_found")
    for amount in (0, -1, "5", True, 1.5):
        assert code(refund(bank, paid, amount=amount))[1] == "invalid_amount"  # type: ignore[arg-type]
    assert code(refund(bank, paid, reference="has space")) == (400, "invalid_field")
    assert code(bank.post(f"/orders/{paid}/refunds", json={"amount_minor": 5})) == (
        400, "missing_field")  # fmt: skip
    assert code(bank.post(f"/orders/{paid}/refunds", content=b"[")) == (400, "invalid_json")
    assert code(bank.get("/refunds/br_nope")) == (404, "refund_not_found")
    assert code(bank.post("/refunds/br_nope/settle")) == (404, "refund_not_found")
    assert code(bank.post("/orders/bo_nope/close_account")) == (404, "order_not_found")
    unauthorized = httpx.post(f"{root(bank)}/orders/{paid}/refunds", json={}, timeout=10)
    assert code(unauthorized) == (401, "unauthorized")
    assert SECRET not in unauthorized.text


def test_refunds_are_paid_out_on_their_own_after_the_delay() -> None:
    policy = DeliveryPolicy(delay_s=0, latency_ms=0, retry_base_s=0.02)
    config = BankConfig(secret=SECRET, latency_ms=0, delivery=policy, refund_delay_s=0)
    with Receiver() as receiver, bank_client(config) as bank:
        order = paid_order(bank, receiver.url)
        created = refund(bank, order).json()
        got = receiver.wait_for(2)
        kinds = sorted(orjson.loads(x.body).get("type") for x in got)
        assert kinds == ["order", "refund"]
        assert bank.get(f"/refunds/{created['id']}").json()["status"] == "succeeded"
