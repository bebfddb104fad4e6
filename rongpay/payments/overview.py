"""What the back office shows about payments, read in one snapshot: totals by status and
method, the latest intents, disputes waiting for an answer, payments held by screening."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.payments import store
from rongpay.payments.intents import Intent, from_row
from rongpay.store.uow import unit_of_work

LATEST = 50


@dataclass(frozen=True, slots=True)
class Totals:
    status: str
    currency: str
    count: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class PaymentsOverview:
    totals: list[Totals]
    latest: list[Intent]
    merchants: dict[str, str]  # id -> name
    open_disputes: list[dict[str, Any]]
    held: list[Intent]


def overview(engine: Engine, livemode: bool = False) -> PaymentsOverview:
    t, d, m = store.intents.c, store.disputes.c, store.merchants.c
    with unit_of_work(engine, write=False) as conn:
        totals = [
            Totals(r.status, r.currency, r.n, int(r.total or 0))
            for r in conn.execute(
                sa.select(t.status, t.currency, sa.func.count().label("n"),
                          sa.func.sum(t.amount).label("total"))
                .where(t.livemode == livemode).group_by(t.status, t.currency)
                .order_by(t.currency, t.status)
            )
        ]  # fmt: skip
        latest = [from_row(r) for r in conn.execute(
            sa.select(store.intents).where(t.livemode == livemode)
            .order_by(t.seq.desc()).limit(LATEST))]  # fmt: skip
        held = [from_row(r) for r in conn.execute(
            sa.select(store.intents).where(t.livemode == livemode, t.status == "processing",
                                           t.risk.like('%"hold"%'))
            .order_by(t.seq.desc()).limit(LATEST))]  # fmt: skip
        names = {r.id: r.name for r in conn.execute(sa.select(m.id, m.name).limit(1000))}
        disputes = [dict(r._mapping) for r in conn.execute(
            sa.select(store.disputes).where(d.livemode == livemode,
                                            d.status.in_(("needs_response", "under_review")))
            .order_by(d.seq.desc()).limit(LATEST))]  # fmt: skip
    return PaymentsOverview(totals, latest, names, disputes, held)
