"""Payments an analyst must see: a sanctions-screening hold and a risk `review` each open a
case in the payment's own transaction (both or neither), and the operator releases or
rejects a held payment. Over HTTP, both engines."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from rongpay.compliance import cases
from rongpay.compliance import store as compliance_store
from rongpay.payments import store as payments_store
from rongpay.store import engine as store_engine

from .conftest import Api, assert_error
from .e2e_support import assert_ledger_ok
from .test_api_wallets import available, customer, mandate, topup

SANCTIONED = "Vladimir Vladimirovich Putin"  # on the shipped sample list (rp-0001)


def _wallet_payment(api: Api, cus: str, amount: int = 1500) -> Any:
    body = {"amount": amount, "currency": "usd", "confirm": True,
            "payment_method_data": {"type": "wallet", "wallet": {"customer": cus}}}  # fmt: skip
    return api.post("/v1/payment_intents", body)


def _alerts(db_url: str) -> dict[str, dict[str, Any]]:
    engine = store_engine.create(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(compliance_store.alerts)).all()
        return {r.alert_id: dict(r._mapping) for r in rows}
    finally:
        engine.dispose()


def _open_cases(db_url: str) -> list[cases.Case]:
    engine = store_engine.create(db_url)
    try:
        return cases.list_cases(engine)
    finally:
        engine.dispose()


def _held_payment(api: Api) -> tuple[str, str]:
    cus = customer(api, country="RU", name=SANCTIONED)  # cross-border for a US merchant
    topup(api, cus, 10_000)
    mandate(api, cus)
    r = _wallet_payment(api, cus)
    assert r.status_code == 200, r.text
    pi = r.json()
    assert pi["status"] == "processing"
    return pi["id"], cus


def test_a_screening_hold_opens_its_case_with_the_payment(api: Api, db_url: str) -> None:
    pi, cus = _held_payment(api)
    assert available(api, cus) == 10_000  # nothing moved
    alert = _alerts(db_url)[f"screening:{pi}:0"]  # there when the answer came: no waiting
    assert alert["scenario"] == "sanctions_screening"
    (case,) = _open_cases(db_url)
    assert case.subject == SANCTIONED
    assert_ledger_ok(db_url)


def test_the_operator_approves_or_rejects_a_held_payment(api: Api, db_url: str) -> None:
    approved, cus = _held_payment(api)
    r = api.post(f"/v1/payment_intents/{approved}/release", {"decision": "approve"})
    assert_error(r, 403, "admin_required")  # a merchant cannot clear its own payment
    r = api.admin(f"/v1/payment_intents/{approved}/release", {"decision": "approve"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded"
    assert available(api, cus) == 10_000 - 1500
    rejected, other = _held_payment(api)
    r = api.admin(f"/v1/payment_intents/{rejected}/release", {"decision": "reject"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "canceled"
    assert r.json()["cancellation_reason"] == "compliance"
    assert available(api, other) == 10_000
    again = api.admin(f"/v1/payment_intents/{rejected}/release", {"decision": "approve"})
    assert_error(again, 400, "payment_intent_unexpected_state")
    assert_ledger_ok(db_url)


class _Review:
    """A risk gate that lets every payment through for review (a fake, not the engine)."""

    def assess(self, *_: Any) -> dict[str, Any]:
        return {"score": 0.42, "decision": "review", "reasons": ["amount_vs_history"]}


def test_a_reviewed_payment_opens_its_case_in_the_same_commit(
    app_client: TestClient, api: Api, db_url: str
) -> None:
    app_client.app.state.gateway.risk = _Review()  # type: ignore[attr-defined]
    cus = customer(api, country="US")
    topup(api, cus, 10_000)
    mandate(api, cus)
    r = _wallet_payment(api, cus)
    assert r.status_code == 200, r.text
    pi = r.json()
    assert pi["status"] == "succeeded"
    alert = _alerts(db_url)[f"risk-review:{pi['id']}:1"]
    assert alert["scenario"] == "risk_review"
    assert any(c.subject == cus for c in _open_cases(db_url))


def test_no_payment_without_its_case(
    app_client: TestClient, api: Api, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the case cannot be written, the payment is not committed either."""
    gw = app_client.app.state.gateway  # type: ignore[attr-defined]
    gw.risk = _Review()

    def broken(conn: Any, alerts: Any, **_: Any) -> list[str]:
        raise RuntimeError("case store down")

    monkeypatch.setattr(cases, "record_alerts", broken)
    cus = customer(api, country="US")
    topup(api, cus, 10_000)
    mandate(api, cus)
    assert_error(_wallet_payment(api, cus), 500, "internal_error")  # a fault, logged
    engine = store_engine.create(db_url)
    try:
        with engine.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(payments_store.intents))
            assert n.scalar_one() == 0
    finally:
        engine.dispose()
    assert available(api, cus) == 10_000
    assert_ledger_ok(db_url)


def _scanned(api: Api, cus: str) -> Any:
    """The merchant shows a dynamic QR code; the customer's wallet app pays it."""
    r = api.post("/v1/payment_intents", {"amount": 1500, "currency": "usd", "confirm": True,
                                         "payment_method_data": {"type": "qr"}})  # fmt: skip
    assert r.status_code == 200, r.text
    payload = r.json()["next_action"]["display_qr_code"]["data"]
    return api.admin("/v1/qr_payments", {"customer": cus, "payload": payload})


def test_a_qr_payment_held_or_reviewed_gets_its_case(
    app_client: TestClient, api: Api, db_url: str
) -> None:
    held = customer(api, country="RU", name=SANCTIONED)
    topup(api, held, 10_000)
    r = _scanned(api, held)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "processing"
    assert _alerts(db_url)[f"screening:{r.json()['id']}:0"]["scenario"] == "sanctions_screening"
    app_client.app.state.gateway.risk = _Review()  # type: ignore[attr-defined]
    reviewed = customer(api, country="US")
    topup(api, reviewed, 10_000)
    r = _scanned(api, reviewed)
    assert r.status_code == 200, r.text
    pi = r.json()
    assert pi["status"] == "succeeded"
    reviews = [
        a for key, a in _alerts(db_url).items() if key.startswith(f"risk-review:{pi['id']}:")
    ]
    assert [a["scenario"] for a in reviews] == ["risk_review"]
    assert_ledger_ok(db_url)
