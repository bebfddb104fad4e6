"""After a seeded random mix of every flow (card payments, declines, 3-D Secure, manual
capture in full or in part, voids, wallet payments, top-ups, transfers, withdrawals), the
ledger proves its invariants (`rongpay ledger check`) and agrees with what the API says:
each merchant's balance is what it captured minus its fees, the platform's fee account holds
every fee, the card clearing account what the cards paid, each wallet what its owner did."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from rongpay.ledger import check
from rongpay.store import engine as store_engine

from .conftest import ISSUER_BALANCE_MINOR, Api, Issuer, ledger_account, new_merchant
from .test_api_wallets import available, through_risk

CARDS = ["4242424242424242", "5555555555554444", "4000008260000000", "6200000000000005"]
DECLINES = ["4000000000000002", "4000000000009995", "4000000000000127"]
THREE_DS = "4000002500003155"


@dataclass
class World:
    """The merchants and wallets, and what the test expects each wallet to hold."""

    rng: random.Random
    refusals: bool
    merchants: list[Api]
    customers: list[str]
    wallets: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    card_paid: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def merchant(self) -> Api:
        return self.rng.choice(self.merchants)

    def customer(self) -> str:
        return self.rng.choice(self.customers)

    def amount(self) -> int:
        return self.rng.randrange(50, 5000)

    def admin(self, path: str, body: Any) -> Any:
        return self.merchants[0].admin(path, body)


def card_body(number: str, amount: int, **extra: Any) -> dict[str, Any]:
    method = {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034,
                                       "cvc": "123"}}  # fmt: skip
    return {"amount": amount, "currency": "usd", "confirm": True, "payment_method_data": method,
            **extra}  # fmt: skip


def past_risk(api: Api, r: Any) -> Any:
    """The risk engine may ask for a code (many payments from one test client look risky):
    answer it, as the customer would, and return what the payment became."""
    if r.status_code != 200 or r.json()["status"] != "requires_action":
        return r
    action = r.json()["next_action"]["verify_with_code"]
    if action["reason"] != "risk":
        return r
    path = f"/v1/payment_intents/{r.json()['id']}/verify_challenge"
    return api.post(path, {"code": action["test_code"]})


def blocked(r: Any) -> bool:
    """The risk engine blocked the attempt (its features include the hour of day, so a run
    at another time may see one): nothing moves."""
    return bool(r.status_code == 402 and r.json()["error"].get("decline_code") == "fraudulent")


def card_payment(w: World) -> None:
    api, number, amount = w.merchant(), w.rng.choice(CARDS), w.amount()
    r = past_risk(api, api.post("/v1/payment_intents", card_body(number, amount)))
    if blocked(r):
        return
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    w.card_paid[number] += amount


def declined_payment(w: World) -> None:
    api = w.merchant()
    r = api.post("/v1/payment_intents", card_body(w.rng.choice(DECLINES), w.amount()))
    r = past_risk(api, r)
    assert r.status_code == 402 and r.json()["error"]["code"] == "card_declined", r.text


def three_d_secure(w: World) -> None:
    api, amount = w.merchant(), w.amount()
    r = api.post("/v1/payment_intents", card_body(THREE_DS, amount))
    if blocked(r):
        return
    pi = r.json()
    assert pi["status"] == "requires_action", pi
    if w.rng.random() < 0.3:
        return  # abandoned: nothing moves
    code = pi["next_action"]["verify_with_code"]["test_code"]
    r = api.post(f"/v1/payment_intents/{pi['id']}/verify_challenge", {"code": code})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    w.card_paid[THREE_DS] += amount


def manual_card(w: World) -> None:
    api, number, amount = w.merchant(), w.rng.choice(CARDS), w.amount()
    pi = api.post("/v1/payment_intents", card_body(number, amount, capture_method="manual"))
    pi = past_risk(api, pi)
    if blocked(pi):
        return
    assert pi.status_code == 200 and pi.json()["status"] == "requires_capture", pi.text
    path = f"/v1/payment_intents/{pi.json()['id']}"
    what = w.rng.choice(["full", "part", "void", "leave"])
    if what == "full":
        r = api.post(f"{path}/capture")
        w.card_paid[number] += amount
    elif what == "part":
        part = w.rng.randrange(1, amount + 1)
        r = api.post(f"{path}/capture", {"amount_to_capture": part})
        w.card_paid[number] += part
    elif what == "void":
        r = api.post(f"{path}/cancel")
    else:
        return
    assert r.status_code == 200, r.text


def topup(w: World) -> None:
    cus, amount = w.customer(), w.rng.randrange(1000, 20_000)
    r = w.admin(f"/v1/customers/{cus}/topups", {"amount": amount, "currency": "usd"})
    assert r.status_code == 200, r.text
    w.wallets[cus] += amount


def wallet_payment(w: World) -> None:
    api, cus, amount = w.merchant(), w.customer(), w.amount()
    if amount > w.wallets[cus] and not w.refusals:
        return
    manual = w.rng.random() < 0.3
    body = {"amount": amount, "currency": "usd", "confirm": True,
            "capture_method": "manual" if manual else "automatic",
            "payment_method_data": {"type": "wallet", "wallet": {"customer": cus}}}  # fmt: skip
    r = through_risk(api, api.post("/v1/payment_intents", body))
    if blocked(r):
        return
    if amount > w.wallets[cus]:
        assert r.status_code == 402 and r.json()["error"]["code"] == "balance_insufficient"
        return
    assert r.status_code == 200, r.text
    w.wallets[cus] -= amount
    if manual:
        path = f"/v1/payment_intents/{r.json()['id']}"
        if w.rng.random() < 0.5:
            assert api.post(f"{path}/capture").status_code == 200
        else:
            assert api.post(f"{path}/cancel").status_code == 200
            w.wallets[cus] += amount


def transfer(w: World) -> None:
    a, b, amount = w.customer(), w.customer(), w.amount()
    if a == b or (amount > w.wallets[a] and not w.refusals):
        return
    r = w.admin(f"/v1/customers/{a}/transfers", {"amount": amount, "currency": "usd", "to": b})
    if amount > w.wallets[a]:
        assert r.status_code == 402, r.text
        return
    assert r.status_code == 200, r.text
    w.wallets[a] -= amount
    w.wallets[b] += amount


def withdrawal(w: World) -> None:
    cus, amount = w.customer(), w.amount()
    if amount > w.wallets[cus] and not w.refusals:
        return
    r = w.admin(f"/v1/customers/{cus}/withdrawals", {"amount": amount, "currency": "usd"})
    if amount > w.wallets[cus]:
        assert r.status_code == 402, r.text
        return
    assert r.status_code == 200, r.text
    w.wallets[cus] -= amount


def unconfirmed(w: World) -> None:
    api = w.merchant()
    pi = api.post("/v1/payment_intents", {"amount": w.amount(), "currency": "usd"}).json()
    if w.rng.random() < 0.5:
        assert api.post(f"/v1/payment_intents/{pi['id']}/cancel").status_code == 200


FLOWS = [card_payment, declined_payment, three_d_secure, manual_card, topup, topup,
         wallet_payment, wallet_payment, transfer, withdrawal, unconfirmed]  # fmt: skip


def every_intent(api: Api) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 100}
        if after:
            params["starting_after"] = after
        page = api.get("/v1/payment_intents", **params).json()
        out += page["data"]
        if not page["has_more"]:
            return out
        after = page["data"][-1]["id"]
    raise AssertionError("more than 10,000 intents")


def assert_books(w: World, db_url: str, issuer: Issuer) -> None:
    engine = store_engine.create(db_url)
    try:
        report = check.check(engine)
    finally:
        engine.dispose()
    assert report.ok, report.as_dict()
    fees_total = card_total = 0
    for api in w.merchants:
        intents = every_intent(api)
        done = [i for i in intents if i["status"] == "succeeded"]
        received = sum(i["amount_received"] for i in done)
        fees = sum(i["fee"] for i in done)
        held = sum(i["amount_capturable"] for i in intents if i["status"] == "requires_capture")
        mb = ledger_account(api, f"T:mb:{api.id}:USD")
        assert mb["credits_posted"] - mb["debits_posted"] == received - fees, api.id
        assert mb["credits_pending"] == held
        fees_total += fees
        card_total += sum(i["amount_received"] for i in done
                          if i["payment_method"]["type"] == "card")  # fmt: skip
    assert ledger_account(w.merchants[0], "T:fees:USD")["credits_posted"] == fees_total
    clearing = ledger_account(w.merchants[0], "T:clearing:card:USD")
    assert clearing["debits_posted"] - clearing["credits_posted"] == card_total
    assert sum(w.card_paid.values()) == card_total
    for number, paid in w.card_paid.items():
        assert issuer.balances(number, "USD")[0] == ISSUER_BALANCE_MINOR - paid, number
    for cus in w.customers:
        assert available(w.merchants[0], cus) == w.wallets[cus], cus


@pytest.mark.parametrize("refusals", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_flows_keep_the_books(
    api: Api, env: Issuer, db_url: str, seed: int, refusals: bool
) -> None:
    other = new_merchant(api.client, name="Noodle Bar", country="GB", default_currency="gbp")
    customers = []
    for country in ("US", "CN", "GB"):
        r = api.admin("/v1/customers", {"country": country, "kyc_tier": "full"})
        customers.append(r.json()["id"])
        for m in (api, other):
            assert m.admin(f"/v1/customers/{customers[-1]}/mandates",
                           {"merchant": m.id}).status_code == 200  # fmt: skip
    w = World(random.Random(seed), refusals, [api, other], customers)
    for _ in range(60):
        w.rng.choice(FLOWS)(w)
    assert_books(w, db_url, env)
