"""Customers: the platform's wallet holders (stored value), with their KYC tier, the
mandates they give merchants to charge their wallet, and the one-time payment codes they show
at a till. These calls come from the operator's own wallet app (admin key)."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rongpay.compliance.kyc import Tier
from rongpay.ledger.store import Sql
from rongpay.payments import merchants, parse, store
from rongpay.payments.errors import invalid, missing
from rongpay.payments.ttl_cache import TtlCache
from rongpay.payments.types import new_id
from rongpay.store.uow import unit_of_work

CODE_TTL_S = 60
CUSTOMER_FIELDS = frozenset({"name", "email", "country", "kyc_tier"})
TIERS = tuple(str(t) for t in Tier)


def render(row: Any) -> dict[str, Any]:
    m = row._mapping if hasattr(row, "_mapping") else row
    return {
        "id": m["id"], "object": "customer", "name": m["name"], "email": m["email"],
        "country": m["country"], "kyc_tier": m["kyc_tier"], "livemode": bool(m["livemode"]),
        "created": m["created"],
    }  # fmt: skip


def create(engine: Engine, livemode: bool, raw: object) -> dict[str, Any]:
    body = parse.body(raw, CUSTOMER_FIELDS)
    row = {
        "id": new_id("cus"), "livemode": livemode,
        "name": parse.text(body.get("name"), "name", limit=200),
        "email": parse.text(body.get("email"), "email", limit=320),
        "country": parse.country(body["country"]) if body.get("country") is not None else None,
        "kyc_tier": parse.choice(body.get("kyc_tier"), "kyc_tier", TIERS, str(Tier.BASIC)),
        "created": int(time.time()),
    }  # fmt: skip
    with unit_of_work(engine) as conn:
        conn.execute(store.customers.insert().values(**row))
    return render(row)


_rows: TtlCache[str, Any] = TtlCache()  # customers are read on every wallet payment


def load(conn: Connection, customer_id: str, livemode: bool, param: str = "id") -> Any:
    row = _rows.get(customer_id)
    if row is None:
        c = store.customers.c
        row = conn.execute(sa.select(store.customers).where(c.id == customer_id)).first()
        if row is not None:
            _rows.put(customer_id, row)
    if row is None or bool(row.livemode) != livemode:
        raise missing("customer", customer_id, param)
    return row


def get(engine: Engine, customer_id: str, livemode: bool) -> dict[str, Any]:
    with unit_of_work(engine, write=False) as conn:
        return render(load(conn, customer_id, livemode))


def grant_mandate(engine: Engine, customer_id: str, livemode: bool, raw: object) -> dict[str, Any]:
    """Let a merchant charge this customer's wallet without a code each time (auto-debit)."""
    body = parse.body(raw, frozenset({"merchant"}))
    merchant_id = parse.text(body.get("merchant"), "merchant", required=True, limit=40) or ""
    merchants.get(engine, merchant_id)
    m = store.mandates.c
    now = int(time.time())
    with unit_of_work(engine) as conn:
        load(conn, customer_id, livemode)
        found = conn.execute(
            sa.select(m.id).where(m.customer_id == customer_id, m.merchant_id == merchant_id)
        ).first()
        if found is None:
            mandate_id = new_id("mandate")
            conn.execute(store.mandates.insert().values(
                id=mandate_id, customer_id=customer_id, merchant_id=merchant_id,
                livemode=livemode, status="active", created=now))  # fmt: skip
        else:
            mandate_id = found.id
            conn.execute(store.mandates.update().where(m.id == mandate_id).values(status="active"))
    return {"id": mandate_id, "object": "mandate", "customer": customer_id,
            "merchant": merchant_id, "status": "active", "livemode": livemode}  # fmt: skip


def revoke_mandate(
    engine: Engine, customer_id: str, livemode: bool, merchant_id: str
) -> dict[str, Any]:
    m = store.mandates.c
    with unit_of_work(engine) as conn:
        load(conn, customer_id, livemode)
        pair = (m.customer_id == customer_id, m.merchant_id == merchant_id, m.livemode == livemode)
        done = conn.execute(store.mandates.update().where(*pair).values(status="revoked")).rowcount
    if not done:
        raise missing("mandate", f"{customer_id}/{merchant_id}", "merchant")
    return {"object": "mandate", "customer": customer_id, "merchant": merchant_id,
            "status": "revoked", "livemode": livemode}  # fmt: skip


def issue_payment_code(engine: Engine, customer_id: str, livemode: bool) -> dict[str, Any]:
    """An 18-digit one-time code for a till to scan (customer-presented mode), valid a minute.
    Only its hash is stored; the code is shown once."""
    code = "28" + "".join(str(secrets.randbelow(10)) for _ in range(16))
    expires = int(time.time()) + CODE_TTL_S
    with unit_of_work(engine) as conn:
        load(conn, customer_id, livemode)
        conn.execute(store.payment_codes.insert().values(
            code_hash=hashlib.sha256(code.encode()).hexdigest(), customer_id=customer_id,
            livemode=livemode, expires=expires, used_by=None))  # fmt: skip
    return {"object": "payment_code", "code": code, "customer": customer_id,
            "expires_at": expires, "livemode": livemode}  # fmt: skip


class Payer(NamedTuple):
    id: str
    livemode: bool
    name: str | None
    country: str | None
    kyc_tier: str


# every wallet payment reads its payer and mandate: one exact read, no cache to go stale (a
# revoked mandate stops the next payment, in every process)
_PAYER = (
    "SELECT c.id, c.livemode, c.name, c.country, c.kyc_tier, m.status FROM pay_customers c "
    "LEFT JOIN pay_mandates m ON m.customer_id = c.id AND m.merchant_id = ? "
    "AND m.livemode = c.livemode WHERE c.id = ?"
)


def payer(sql: Sql, customer_id: str, merchant_id: str,
          livemode: bool) -> tuple[Payer | None, bool]:  # fmt: skip
    """The paying customer (None when there is none in this mode) and whether they let
    MERCHANT_ID charge their wallet (an active mandate)."""
    row = sql.one(_PAYER, (merchant_id, customer_id))
    if row is None or bool(row[1]) != livemode:
        return None, False
    return Payer(row[0], bool(row[1]), row[2], row[3], row[4]), row[5] == "active"


def check_known(conn: Connection, customer_id: str, livemode: bool, param: str) -> Any:
    row = load(conn, customer_id, livemode, param)
    if row is None:
        raise invalid("customer_invalid", f"No such customer {customer_id!r}.", param)
    return row
