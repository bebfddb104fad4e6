"""Disputes end to end: the sandbox issuer (simulated) charges back the dispute test card a
moment after capture (ISO 8583 0422), the gateway opens a dispute that holds the amount and
charges the dispute fee; evidence, acceptance and the operator's decision close it (won voids
the hold, lost posts it). Over HTTP only, the ledger checked after each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rongpay.api.app import create_app
from rongpay.payments.channels.card import Chargeback
from rongpay.sim.issuer import MAX_ADVICE_TRIES
from rongpay.sim.issuer_book import DEFAULT_BALANCE_MINOR

from .e2e_support import (
    ADMIN,
    ADMIN_KEY,
    DISPUTED_CARD,
    VISA,
    Api,
    Issuer,
    assert_error,
    assert_ledger_ok,
    fee,
    issuer_running,
    new_merchant,
    poll,
    set_env,
)

DISPUTE_FEE = 1500  # the default fee schedule's dispute fee, in the default currency


@pytest.fixture
def issuer_fast(monkeypatch: pytest.MonkeyPatch) -> Iterator[Issuer]:
    with issuer_running(dispute_after_s=0.2) as issuer:
        set_env(monkeypatch, issuer)
        yield issuer


@pytest.fixture
def client(db_url: str, issuer_fast: Issuer) -> Iterator[TestClient]:
    with TestClient(create_app(db_url, admin_key=ADMIN_KEY)) as c:
        yield c
    assert_ledger_ok(db_url)


@pytest.fixture
def gw(client: TestClient) -> Api:
    return new_merchant(client)


def disputed_payment(api: Api, amount: int = 2000) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pay with the dispute test card and wait for the dispute it brings."""
    pi = api.pay(DISPUTED_CARD, amount)
    assert pi["status"] == "succeeded"
    return pi, wait_dispute(api, pi["id"])


def wait_dispute(api: Api, intent_id: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        r = api.get("/v1/disputes", payment_intent=intent_id)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        return dict(data[0]) if data else None

    return poll(found, f"a dispute on {intent_id}")


def evidence(api: Api, dispute_id: str, text: str | None = None, **body: Any) -> Any:
    ev = body.pop("evidence", {})
    if text is not None:
        ev["uncategorized_text"] = text
    return api.post(f"/v1/disputes/{dispute_id}", {"evidence": ev, **body})


def held(api: Api) -> int:
    return api.balance()["debits_pending"]


# -- opening ------------------------------------------------------------------------------------


def test_chargeback_opens_a_dispute_holding_the_funds(gw: Api, issuer_fast: Issuer) -> None:
    pi, dp = disputed_payment(gw, 2000)
    assert dp["object"] == "dispute" and dp["id"].startswith("dp_")
    assert (dp["amount"], dp["currency"], dp["status"]) == (2000, "usd", "needs_response")
    assert (dp["payment_intent"], dp["charge"]) == (pi["id"], pi["latest_charge"])
    assert dp["reason"] == "fraudulent" and dp["evidence"] == {} and dp["livemode"] is False
    assert dp["evidence_details"]["due_by"] > dp["created"]
    assert gw.get(f"/v1/disputes/{dp['id']}").json() == dp
    assert held(gw) == 2000
    assert gw.net() == 2000 - fee(2000) - DISPUTE_FEE
    fees = gw.account("T:fees:USD")
    assert fees["credits_posted"] == fee(2000) + DISPUTE_FEE
    # the issuer gave the cardholder the money back
    assert issuer_fast.balances(DISPUTED_CARD, "USD") == (DEFAULT_BALANCE_MINOR,) * 2
    types = [e["type"] for e in gw.events("charge.*")]
    assert "charge.dispute.created" in types and "charge.dispute.funds_withdrawn" in types
    created = [e for e in gw.events("charge.*") if e["type"] == "charge.dispute.created"]
    assert created[0]["data"]["object"]["id"] == dp["id"]


def test_an_ordinary_card_is_not_disputed(gw: Api) -> None:
    pi = gw.pay(VISA, 2000)
    disputed_payment(gw, 1000)  # by the time this one's dispute is in, VISA's would be too
    assert gw.get("/v1/disputes", payment_intent=pi["id"]).json()["data"] == []


def test_a_repeated_chargeback_advice_opens_no_second_dispute(client: TestClient, gw: Api) -> None:
    pi, dp = disputed_payment(gw, 2000)
    gateway = client.app.state.gateway  # type: ignore[attr-defined]
    charge = pi["latest_charge"]
    rrn = _rrn_of(client, charge)
    notice = Chargeback(rrn=rrn, amount_minor=2000, currency="USD", reason="fraudulent")
    for _ in range(2):  # what the card channel does with a 0423 repeat
        client.portal.call(gateway.on_chargeback, notice)  # type: ignore[union-attr]
    assert [d["id"] for d in gw.get("/v1/disputes").json()["data"]] == [dp["id"]]
    assert held(gw) == 2000
    assert gw.net() == 2000 - fee(2000) - DISPUTE_FEE
    created = [e for e in gw.events("charge.*") if e["type"] == "charge.dispute.created"]
    assert len(created) == 1


def _rrn_of(client: TestClient, charge_id: str) -> str:
    """The issuer's reference of the charge (what a chargeback advice names)."""
    import sqlalchemy as sa

    from rongpay.payments import store

    engine = client.app.state.gateway.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        ref = conn.execute(
            sa.select(store.charges.c.network_ref).where(store.charges.c.id == charge_id)
        ).scalar_one()
    return str(ref)


# -- evidence and outcomes ----------------------------------------------------------------------


def test_winning_evidence_wins_and_voids_the_hold(gw: Api) -> None:
    _, dp = disputed_payment(gw)
    r = evidence(gw, dp["id"], "winning_evidence", evidence={"customer_name": "Li Wei"})
    assert r.status_code == 200, r.text
    won = r.json()
    assert won["status"] == "won"
    assert won["evidence"] == {"customer_name": "Li Wei", "uncategorized_text": "winning_evidence"}
    assert gw.get(f"/v1/disputes/{dp['id']}").json() == won
    assert held(gw) == 0
    assert gw.net() == 2000 - fee(2000) - DISPUTE_FEE  # funds back; the fee stays charged
    types = [e["type"] for e in gw.events("charge.*")]
    assert "charge.dispute.funds_reinstated" in types and "charge.dispute.closed" in types


def test_losing_evidence_loses_and_posts_the_hold(gw: Api) -> None:
    _, dp = disputed_payment(gw)
    r = evidence(gw, dp["id"], "losing_evidence")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "lost"
    assert held(gw) == 0
    assert gw.net() == 2000 - fee(2000) - DISPUTE_FEE - 2000
    clearing = gw.account("T:clearing:card:USD")
    assert clearing["debits_posted"] - clearing["credits_posted"] == 0  # the network took it
    types = [e["type"] for e in gw.events("charge.*")]
    assert "charge.dispute.closed" in types and "charge.dispute.funds_reinstated" not in types


def test_evidence_without_submitting_then_review(gw: Api) -> None:
    _, dp = disputed_payment(gw)
    r = evidence(gw, dp["id"], "winning_evidence", submit=False)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["evidence"]) == (
        "needs_response", {"uncategorized_text": "winning_evidence"})  # fmt: skip
    assert held(gw) == 2000
    r = evidence(gw, dp["id"], "a long story", evidence={"receipt": "r-1"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "under_review"
    assert r.json()["evidence"] == {"uncategorized_text": "a long story", "receipt": "r-1"}
    assert "charge.dispute.updated" in [e["type"] for e in gw.events("charge.*")]
    assert held(gw) == 2000
    r = evidence(gw, dp["id"], evidence={"customer_email": "li@example.com"})
    assert r.status_code == 200 and r.json()["status"] == "under_review", r.text


def test_closing_accepts_the_loss(gw: Api) -> None:
    _, dp = disputed_payment(gw)
    r = gw.post(f"/v1/disputes/{dp['id']}/close")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "lost"
    assert held(gw) == 0 and gw.net() == 2000 - fee(2000) - DISPUTE_FEE - 2000
    assert_error(gw.post(f"/v1/disputes/{dp['id']}/close"), 400, "dispute_unexpected_state")
    assert_error(evidence(gw, dp["id"], "winning_evidence"), 400, "dispute_unexpected_state")
    assert gw.get(f"/v1/disputes/{dp['id']}").json()["status"] == "lost"


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_operator_records_the_networks_decision(gw: Api, outcome: str) -> None:
    _, dp = disputed_payment(gw)
    assert evidence(gw, dp["id"], "see attached").json()["status"] == "under_review"
    path = f"/v1/disputes/{dp['id']}/resolve"
    r = gw.post(path, {"outcome": outcome})
    assert_error(r, 403, "admin_required")
    assert_error(gw.admin(path, {"outcome": "maybe"}), 400, "parameter_invalid")
    assert_error(gw.admin(path, {}), 400, "parameter_invalid")
    r = gw.admin(path, {"outcome": outcome})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == outcome
    assert held(gw) == 0
    taken = 2000 if outcome == "lost" else 0
    assert gw.net() == 2000 - fee(2000) - DISPUTE_FEE - taken
    assert_error(gw.admin(path, {"outcome": "won"}), 400, "dispute_unexpected_state")
    assert_error(evidence(gw, dp["id"], "more"), 400, "dispute_unexpected_state")
    assert_error(gw.post(f"/v1/disputes/{dp['id']}/close"), 400, "dispute_unexpected_state")
    assert gw.net() == 2000 - fee(2000) - DISPUTE_FEE - taken


def test_bad_evidence_and_unknown_disputes(gw: Api) -> None:
    _, dp = disputed_payment(gw)
    path = f"/v1/disputes/{dp['id']}"
    assert_error(gw.post(path, {"evidence": {"shoe_size": "9"}}), 400, "parameter_unknown")
    assert_error(gw.post(path, {"evidence": {"receipt": 5}}), 400, "parameter_invalid")
    assert_error(gw.post(path, {"evidence": {"receipt": "x" * 20_001}}), 400,
                 "parameter_invalid")  # fmt: skip
    assert_error(gw.post(path, {"submit": "yes"}), 400, "parameter_invalid")
    assert_error(gw.post(path, {"verdict": "won"}), 400, "parameter_unknown")
    assert gw.get(path).json()["status"] == "needs_response"
    assert_error(gw.get("/v1/disputes/dp_nope"), 404, "resource_missing")
    assert_error(gw.post("/v1/disputes/dp_nope/close"), 404, "resource_missing")
    assert_error(gw.admin("/v1/disputes/dp_nope/resolve", {"outcome": "won"}), 404,
                 "resource_missing")  # fmt: skip
    other = new_merchant(gw.client, name="Other")
    assert_error(other.get(path), 404, "resource_missing")
    assert_error(other.post(f"{path}/close"), 404, "resource_missing")
    assert other.get("/v1/disputes").json()["data"] == []
    assert held(gw) == 2000


def test_dispute_after_a_partial_refund_holds_what_is_left(gw: Api, issuer_fast: Issuer) -> None:
    pi = gw.pay(DISPUTED_CARD, 2000)
    r = gw.post("/v1/refunds", {"payment_intent": pi["id"], "amount": 500})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    dp = wait_dispute(gw, pi["id"])
    assert dp["amount"] == 1500
    assert held(gw) == 1500
    assert gw.net() == 2000 - fee(2000) - 500 - DISPUTE_FEE


def test_refund_of_a_charged_back_payment_fails_and_moves_nothing(
    gw: Api, issuer_fast: Issuer
) -> None:
    """The issuer refuses to refund a charged-back payment; the refund fails, and the merchant
    pays once (the dispute), not twice. (Stripe refuses up front with `charge_disputed`.)"""
    _, dp = disputed_payment(gw)
    assert gw.post(f"/v1/disputes/{dp['id']}/close").json()["status"] == "lost"
    r = gw.post("/v1/refunds", {"payment_intent": dp["payment_intent"]})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["failure_reason"]) == ("failed", "refund_failed")
    assert gw.intent(dp["payment_intent"])["amount_refunded"] == 0
    assert gw.net() == 2000 - fee(2000) - DISPUTE_FEE - 2000
    assert issuer_fast.balances(DISPUTED_CARD, "USD") == (DEFAULT_BALANCE_MINOR,) * 2
    assert "refund.failed" in [e["type"] for e in gw.events("refund.*")]


def test_dispute_in_another_currency_has_no_fee(gw: Api) -> None:
    pi = gw.pay(DISPUTED_CARD, 5000, currency="eur")
    dp = wait_dispute(gw, pi["id"])
    assert (dp["amount"], dp["currency"]) == (5000, "eur")
    eur = gw.balance("EUR")
    assert eur["debits_pending"] == 5000
    assert eur["credits_posted"] - eur["debits_posted"] == 5000 - pi["fee"]  # no dispute fee
    assert gw.balance("USD")["debits_posted"] == 0
    assert evidence(gw, dp["id"], "losing_evidence").json()["status"] == "lost"
    eur = gw.balance("EUR")
    assert eur["debits_pending"] == 0
    assert eur["credits_posted"] - eur["debits_posted"] == -pi["fee"]


def test_racing_decisions_close_a_dispute_once(gw: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _, dp = disputed_payment(gw)
    path = f"/v1/disputes/{dp['id']}/resolve"
    outcomes = ["won", "lost"] * 4
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda o: gw.admin(path, {"outcome": o}), outcomes))
    done = [r for r in answers if r.status_code == 200]
    assert len(done) == 1, [r.text for r in answers]
    for r in answers:
        if r.status_code != 200:
            assert_error(r, 400, "dispute_unexpected_state")
    final = done[0].json()["status"]
    assert gw.get(f"/v1/disputes/{dp['id']}").json()["status"] == final
    taken = 2000 if final == "lost" else 0
    assert held(gw) == 0 and gw.net() == 2000 - fee(2000) - DISPUTE_FEE - taken


def test_live_mode_evidence_waits_for_the_network(gw: Api) -> None:
    r = gw.admin(f"/v1/merchants/{gw.id}/api_keys", {"livemode": True})
    assert r.status_code == 200, r.text
    live = Api(gw.client, gw.merchant, r.json()["key"])
    pi = live.pay(DISPUTED_CARD, 2000)
    assert pi["livemode"] is True
    dp = wait_dispute(live, pi["id"])
    assert dp["livemode"] is True
    assert gw.get("/v1/disputes").json()["data"] == []  # the test key sees no live dispute
    live_balance = live.account(f"L:mb:{gw.id}:USD")
    assert live_balance["debits_pending"] == 2000
    r = evidence(live, dp["id"], "winning_evidence")
    assert r.status_code == 200 and r.json()["status"] == "under_review", r.text
    path = f"/v1/disputes/{dp['id']}/resolve"
    assert_error(gw.admin(path, {"outcome": "won"}), 404, "resource_missing")  # test mode
    r = gw.client.post(path, json={"outcome": "won"},
                       headers={**ADMIN, "Rongpay-Mode": "live"})  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "won", r.text
    assert live.account(f"L:mb:{gw.id}:USD")["debits_pending"] == 0
    assert held(gw) == 0  # test mode's books never moved


def test_an_issuer_repeating_its_advice_at_once_opens_one_dispute(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issuer never waits for our ack (advice_retry_s=0): the 0422 and all its 0423
    repeats arrive back to back and race in the gateway; one dispute, one hold, one fee."""
    with issuer_running(advice_retry_s=0.0) as issuer:
        set_env(monkeypatch, issuer)
        with TestClient(create_app(db_url, admin_key=ADMIN_KEY)) as client:
            api = new_merchant(client)
            assert_error(api.get("/v1/payment_intents/pi_warm_up"), 404, "resource_missing")
            gateway = client.app.state.gateway  # type: ignore[attr-defined]
            handled: list[Chargeback] = []
            original = gateway.on_chargeback

            async def counting(notice: Chargeback) -> None:
                try:
                    await original(notice)
                finally:
                    handled.append(notice)

            gateway.on_chargeback = counting  # what the card channel calls, per advice
            pi, dp = disputed_payment(api, 2000)
            poll(lambda: len(handled) >= MAX_ADVICE_TRIES, "every repeated advice")
            assert {n.rrn for n in handled} == {_rrn_of(client, pi["latest_charge"])}
            assert [d["id"] for d in api.get("/v1/disputes").json()["data"]] == [dp["id"]]
            assert held(api) == 2000
            assert api.net() == 2000 - fee(2000) - DISPUTE_FEE
    assert_ledger_ok(db_url)
