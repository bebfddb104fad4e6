"""Payment test data made through the domain's own functions (no HTTP)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from sqlalchemy.engine import Engine

from rongpay.payments import customers, merchants
from rongpay.payments.gateway import Client, Gateway
from rongpay.payments.types import Caller
from rongpay.payments.wallets import WalletOp
from rongpay.payments.writer import writer_for
from rongpay.risk.lists import Entry, Kind, ListName
from rongpay.risk.store import import_entries
from rongpay.security.vault import Vault


def merchant(engine: Engine, country: str = "US", currency: str = "usd") -> str:
    made, _ = merchants.create(
        engine, {"name": "Test Shop", "country": country, "default_currency": currency}
    )
    return made.id


def wallet_customer(
    engine: Engine, merchant_id: str, balance: int, currency: str = "USD", *,
    country: str = "US", tier: str = "full", trusted: bool = True,
) -> str:  # fmt: skip
    cid = str(customers.create(engine, False, {"name": "Pat Doe", "country": country,
                                               "kyc_tier": tier})["id"])  # fmt: skip
    if balance:
        writer_for(engine).run(WalletOp("topup", False, cid, balance, currency))
    customers.grant_mandate(engine, cid, False, {"merchant": merchant_id})
    if trusted:  # on the risk allow list: load tests pay faster than any real customer would
        import_entries(engine, [Entry(ListName.ALLOW, Kind.ACCOUNT, cid, "test customer")])
    return cid


def gateway(engine: Engine) -> Gateway:
    return Gateway(engine, vault=Vault([secrets.token_bytes(32)]))


def pay_wallet(gw: Gateway, merchant_id: str, customer: str, amount: int,
               currency: str = "usd") -> Any:  # fmt: skip
    method = {"type": "wallet", "wallet": {"customer": customer}}
    body = {"amount": amount, "currency": currency, "confirm": True,
            "payment_method_data": method}  # fmt: skip
    return asyncio.run(gw.create(Caller(merchant_id, False), body, idem=None, client=Client()))
