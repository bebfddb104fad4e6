"""Demo data for `rongpay demo`: a small payment institution's ledger, seeded idempotently.

Four currencies (USD, EUR, CNY, JPY); per currency a cash (nostro) account, a card clearing
account, a fee income account, customer wallets that can never go negative and merchant
balances. The transfers tell a short story: top-ups, card payments with their fee in one
linked chain, a card authorisation held and then captured, another released, a
cross-currency transfer through fx_position accounts, and a merchant payout.

Every id is fixed, so a second run finds everything there (`exists`) and changes nothing.
Only ledger service functions are used: this module is a client of the ledger like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from rongpay.ledger import service
from rongpay.money import to_minor

CURRENCIES = ("USD", "EUR", "CNY", "JPY")
CUSTOMERS = {
    "USD": ("alice", "dave"),
    "EUR": ("bob", "elena"),
    "CNY": ("chen", "li"),
    "JPY": ("sato", "tanaka"),
}
MERCHANTS = {"USD": "bookshop", "EUR": "bakery", "CNY": "teahouse", "JPY": "ramen"}
TOPUP = {"USD": "500.00", "EUR": "400.00", "CNY": "3000.00", "JPY": "50000"}
PAYMENTS = {  # (customer index, amount) per currency
    "USD": (("0", "42.50"), ("1", "19.99"), ("0", "7.25")),
    "EUR": (("0", "12.40"), ("1", "88.00"), ("1", "3.10")),
    "CNY": (("0", "128.00"), ("1", "66.60"), ("0", "9.90")),
    "JPY": (("0", "1200"), ("1", "860"), ("0", "3400")),
}
FEE_BP = 290  # merchant fee: 2.9 %, in basis points


class DemoError(RuntimeError):
    """The ledger refused part of the demo data (a bug in the data or the ledger)."""


@dataclass
class SeedReport:
    accounts_created: int = 0
    accounts_existing: int = 0
    transfers_created: int = 0
    transfers_existing: int = 0
    sample: dict[str, str] = field(default_factory=dict)

    @property
    def fresh(self) -> bool:
        return self.accounts_created + self.transfers_created > 0


def _minor(amount: str, ccy: str) -> int:
    return to_minor(amount, ccy)


def accounts() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ccy in CURRENCIES:
        c = ccy.lower()
        out += [
            {"id": f"cash_{c}", "ledger": ccy, "code": "nostro", "owner": "rongpay treasury"},
            {"id": f"clearing_{c}", "ledger": ccy, "code": "clearing", "owner": "card scheme"},
            {"id": f"fees_{c}", "ledger": ccy, "code": "fees", "flags": ["history"],
             "owner": "rongpay revenue"},
            {"id": f"fx_position_{c}", "ledger": ccy, "code": "fx_position", "owner": "rongpay fx"},
            {"id": f"merchant_{MERCHANTS[ccy]}_{c}", "ledger": ccy, "code": "merchant_balance",
             "flags": ["debits_must_not_exceed_credits", "history"], "owner": MERCHANTS[ccy]},
        ]  # fmt: skip
        for i, name in enumerate(CUSTOMERS[ccy]):
            flags = ["debits_must_not_exceed_credits"] + (["history"] if i == 0 else [])
            out.append({"id": f"wallet_{name}_{c}", "ledger": ccy, "code": "customer_wallet",
                        "flags": flags, "owner": name})  # fmt: skip
    return out


def _t(tid: str, debit: str, credit: str, amount: int, ccy: str, code: str,
       **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"id": tid, "debit_account_id": debit, "credit_account_id": credit, "amount": amount,
            "ledger": ccy, "code": code, **extra}  # fmt: skip


def _story(ccy: str) -> list[dict[str, Any]]:
    """One currency's transfers: top-ups, paid purchases with fees, a payout."""
    c = ccy.lower()
    merchant = f"merchant_{MERCHANTS[ccy]}_{c}"
    wallets = [f"wallet_{n}_{c}" for n in CUSTOMERS[ccy]]
    out = [
        _t(f"demo_topup_{n}_{c}", f"cash_{c}", w, _minor(TOPUP[ccy], ccy), ccy, "topup")
        for n, w in zip(CUSTOMERS[ccy], wallets, strict=True)
    ]
    for k, (who, amount) in enumerate(PAYMENTS[ccy]):
        minor = _minor(amount, ccy)
        fee = max(1, minor * FEE_BP // 10_000)
        out.append(_t(f"demo_pay_{c}_{k}", wallets[int(who)], merchant, minor, ccy, "payment",
                      flags=["linked"], user_data=f"pi_demo_{c}_{k}"))  # fmt: skip
        out.append(_t(f"demo_fee_{c}_{k}", merchant, f"fees_{c}", fee, ccy, "fee",
                      user_data=f"pi_demo_{c}_{k}"))  # fmt: skip
    payout = _minor(PAYMENTS[ccy][1][1], ccy) // 2
    out.append(_t(f"demo_payout_{c}", merchant, f"cash_{c}", payout, ccy, "payout"))
    return out


def _two_phase() -> list[dict[str, Any]]:
    """Card authorisations: one captured (partially), one released, one still held."""
    return [
        _t("demo_auth_captured", "wallet_alice_usd", "clearing_usd", 6000, "USD", "card_auth",
           flags=["pending"], timeout=7 * 86_400),
        {"id": "demo_capture", "pending_id": "demo_auth_captured", "amount": 5400,
         "flags": ["post_pending"], "code": "card_auth"},
        _t("demo_auth_voided", "wallet_bob_eur", "clearing_eur", 2500, "EUR", "card_auth",
           flags=["pending"], timeout=7 * 86_400),
        {"id": "demo_release", "pending_id": "demo_auth_voided", "flags": ["void_pending"],
         "code": "card_auth"},
        _t("demo_auth_held", "wallet_chen_cny", "clearing_cny", 8800, "CNY", "card_auth",
           flags=["pending"], timeout=30 * 86_400),
    ]  # fmt: skip


def _cross_currency() -> list[dict[str, Any]]:
    """Dave (USD) sends Elena (EUR) 50.00 USD = 46.00 EUR: two ledgers, one linked chain."""
    return [
        _t("demo_fx_usd_leg", "wallet_dave_usd", "fx_position_usd", 5000, "USD", "fx",
           flags=["linked"], user_data="fxq_demo_1"),
        _t("demo_fx_eur_leg", "fx_position_eur", "wallet_elena_eur", 4600, "EUR", "fx",
           user_data="fxq_demo_1"),
    ]  # fmt: skip


def transfers() -> list[dict[str, Any]]:
    return [t for ccy in CURRENCIES for t in _story(ccy)] + _two_phase() + _cross_currency()


def seed(engine: Engine) -> SeedReport:
    """Create the demo accounts and transfers; a second call creates nothing."""
    report = SeedReport()
    for raw, result in zip(accounts(), service.create_accounts(engine, accounts()), strict=True):
        _tally(report, "accounts", raw["id"], str(result))
    raws = transfers()
    [results] = service.create_transfers(engine, [service.parse_transfers(raws)])
    for raw, code in zip(raws, results, strict=True):
        _tally(report, "transfers", raw["id"], str(code))
    report.sample = {
        "account": "wallet_alice_usd",
        "history_account": "merchant_bookshop_usd",
        "transfer": "demo_pay_usd_0",
        "pending": "demo_auth_captured",
    }
    return report


def _tally(report: SeedReport, kind: str, item_id: str, result: str) -> None:
    if result == "ok":
        setattr(report, f"{kind}_created", getattr(report, f"{kind}_created") + 1)
    elif result == "exists":
        setattr(report, f"{kind}_existing", getattr(report, f"{kind}_existing") + 1)
    else:
        raise DemoError(f"demo {kind[:-1]} {item_id}: {result} (is this database another ledger?)")


# -- the payment gateway's demo: merchants, wallet customers, a few payments ------------------

GATEWAY_MERCHANTS = (
    {"name": "Demo Bookshop", "country": "US", "city": "Portland", "default_currency": "usd"},
    {"name": "Demo Teahouse", "country": "CN", "city": "Hangzhou", "default_currency": "cny"},
)
GATEWAY_CUSTOMERS = (
    ({"name": "Alice Walker", "country": "US", "kyc_tier": "full"}, "USD", 50_000),
    ({"name": "Wang Fang", "country": "CN", "kyc_tier": "basic"}, "CNY", 300_000),
)


@dataclass
class GatewayDemo:
    merchants: dict[str, str] = field(default_factory=dict)  # name -> id
    secret_key: str = ""  # a fresh test key of the first merchant, shown once
    customers: dict[str, str] = field(default_factory=dict)  # name -> id
    fresh: bool = False


def seed_gateway(engine: Engine) -> GatewayDemo:
    """Merchants, wallet customers with mandates and balances, and a few wallet payments; a
    second call reuses them and only issues a new test key to print."""
    import asyncio
    import secrets

    import sqlalchemy as sa

    from rongpay.payments import customers, merchants, store
    from rongpay.payments.gateway import Client, Gateway
    from rongpay.payments.types import Caller
    from rongpay.payments.wallets import WalletOp
    from rongpay.payments.writer import writer_for
    from rongpay.security.vault import Vault
    from rongpay.store.uow import unit_of_work

    out = GatewayDemo()
    with unit_of_work(engine, write=False) as conn:
        known = {
            r.name: r.id
            for r in conn.execute(sa.select(store.merchants.c.name, store.merchants.c.id))
        }
        people = {
            r.name: r.id
            for r in conn.execute(sa.select(store.customers.c.name, store.customers.c.id))
        }
    keys: dict[str, str] = {}
    for spec in GATEWAY_MERCHANTS:
        if spec["name"] not in known:
            merchant, issued = merchants.create(engine, spec)
            known[spec["name"]] = merchant.id
            keys[spec["name"]] = issued["secret_key"]
            out.fresh = True
        out.merchants[spec["name"]] = known[spec["name"]]
    first = GATEWAY_MERCHANTS[0]["name"]
    out.secret_key = keys.get(first) or merchants.issue_key(engine, known[first], {})["key"]
    writer = writer_for(engine)
    for spec, currency, topup in GATEWAY_CUSTOMERS:
        name = str(spec["name"])
        if name in people:
            out.customers[name] = people[name]
            continue
        cid = customers.create(engine, False, spec)["id"]
        out.customers[name] = cid
        writer.run(WalletOp("topup", False, cid, topup, currency))
        for merchant_id in out.merchants.values():
            customers.grant_mandate(engine, cid, False, {"merchant": merchant_id})
        gateway = Gateway(engine, vault=Vault([secrets.token_bytes(32)]))  # wallet only: no cards
        merchant_id = out.merchants[first if currency == "USD" else GATEWAY_MERCHANTS[1]["name"]]
        for amount in (1250, 4999):
            method = {"type": "wallet", "wallet": {"customer": cid}}
            body = {"amount": amount, "currency": currency.lower(), "confirm": True,
                    "description": "demo order", "payment_method_data": method}  # fmt: skip
            asyncio.run(
                gateway.create(Caller(merchant_id, False), body, idem=None, client=Client())
            )
    return out
