"""Merchants: who gets paid. Creating one opens its ledger balances (test and live, in its
default currency) and issues its first test-mode keys, shown once."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.ledger import service as ledger
from rongpay.payments import accounts, fees, keys, parse, store
from rongpay.payments.errors import invalid, missing
from rongpay.payments.ttl_cache import TtlCache
from rongpay.payments.types import Merchant, new_id
from rongpay.store.uow import unit_of_work

_MCC = re.compile(r"^\d{4}$")
FIELDS = frozenset({"name", "country", "city", "default_currency", "mcc", "fee_schedule"})


def _merchant(row: Any) -> Merchant:
    return Merchant(
        row.id, row.name, row.country, row.default_currency, row.mcc, row.city,
        orjson.loads(row.fee_schedule), row.status, row.created,
    )  # fmt: skip


def create(engine: Engine, raw: object) -> tuple[Merchant, dict[str, str]]:
    """A new merchant and its test keys {"secret_key", "publishable_key"}."""
    body = parse.body(raw, FIELDS)
    name = parse.line(body.get("name"), "name", required=True, limit=200)
    country = parse.country(body.get("country"), "country")
    currency = parse.currency(body.get("default_currency"), "default_currency")
    mcc = body.get("mcc", "5999")
    if not isinstance(mcc, str) or not _MCC.match(mcc):
        raise invalid("parameter_invalid", "`mcc` must be a 4-digit merchant category code.", "mcc")
    city = parse.line(body.get("city"), "city", limit=15) or "Online"
    schedule = fees.parse_schedule(body.get("fee_schedule"))
    now = int(time.time())
    merchant = Merchant(
        new_id("acct", 16), name or "", country, currency, mcc, city, schedule, "active", now
    )
    opened = [accounts.merchant(live, merchant.id, currency) for live in (False, True)]
    ledger.create_accounts(engine, [_account_raw(a) for a in opened])
    with unit_of_work(engine) as conn:
        conn.execute(
            store.merchants.insert().values(
                id=merchant.id, name=name, country=country, default_currency=currency, mcc=mcc,
                city=city, fee_schedule=orjson.dumps(schedule).decode(), status="active",
                created=now,
            )
        )  # fmt: skip
        issued = {
            "secret_key": keys.issue(conn, merchant.id, kind="secret", livemode=False, now=now),
            "publishable_key": keys.issue(
                conn, merchant.id, kind="publishable", livemode=False, now=now
            ),
        }
    return merchant, issued


def _account_raw(a: Any) -> dict[str, Any]:
    flags = ["debits_must_not_exceed_credits"] if a.flags else []
    return {"id": a.id, "ledger": a.ledger, "code": a.code, "flags": flags, "owner": a.owner}


def issue_key(engine: Engine, merchant_id: str, raw: object) -> dict[str, Any]:
    body = parse.body(raw, frozenset({"livemode", "type"}))
    livemode = parse.boolean(body.get("livemode"), "livemode", False)
    kind = parse.choice(body.get("type"), "type", keys.KINDS, "secret")
    get(engine, merchant_id)
    now = int(time.time())
    with unit_of_work(engine) as conn:
        raw_key = keys.issue(conn, merchant_id, kind=kind, livemode=livemode, now=now)
    return {"object": "api_key", "type": kind, "livemode": livemode, "key": raw_key, "created": now}


_cache: TtlCache[tuple[int, str], Merchant] = TtlCache()  # a fee change is seen within 5 s


def get(engine: Engine, merchant_id: str) -> Merchant:
    key = (id(engine), merchant_id)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    with unit_of_work(engine, write=False) as conn:
        row = conn.execute(
            sa.select(store.merchants).where(store.merchants.c.id == merchant_id)
        ).first()
    if row is None:
        raise missing("merchant", merchant_id)
    return _cache.put(key, _merchant(row))


def list_all(engine: Engine, limit: int = 100) -> list[Merchant]:
    with unit_of_work(engine, write=False) as conn:
        rows = conn.execute(
            sa.select(store.merchants).order_by(store.merchants.c.seq.desc()).limit(limit)
        )
        return [_merchant(r) for r in rows]


def render(m: Merchant) -> dict[str, Any]:
    return {
        "id": m.id, "object": "merchant", "name": m.name, "country": m.country,
        "default_currency": m.default_currency.lower(), "mcc": m.mcc, "city": m.city,
        "fee_schedule": m.fee_schedule, "status": m.status, "created": m.created,
    }  # fmt: skip
