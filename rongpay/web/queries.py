"""Read-only queries the back office needs and the ledger service does not offer yet.

A stopgap: listing accounts, the latest transfers and volume per ledger belong in
rongpay.ledger.service (asked of the ledger's owner); until then they live here, read-only,
in one snapshot transaction, each with a written row limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.ledger import store
from rongpay.ledger.types import Account, Transfer
from rongpay.store.uow import unit_of_work

MAX_ROWS = 500


@dataclass(frozen=True, slots=True)
class LedgerVolume:
    ledger: str
    accounts: int
    transfers: int
    posted_minor: int  # sum of posted amounts (pending and void transfers move no posted money)


@dataclass(frozen=True, slots=True)
class Overview:
    accounts: list[Account]
    account_total: int
    transfers: list[Transfer]
    volumes: list[LedgerVolume]


def overview(engine: Engine, *, accounts_limit: int = 200, transfers_limit: int = 25) -> Overview:
    assert 0 < accounts_limit <= MAX_ROWS and 0 < transfers_limit <= MAX_ROWS
    a, t = store.accounts, store.transfers
    tcols = [t.c[n.strip()] for n in store.TRANSFER_COLS.split(",")]
    with unit_of_work(engine, write=False) as conn:
        accounts = [
            Account(*r)
            for r in conn.execute(
                sa.select(a).order_by(a.c.ledger, a.c.timestamp).limit(accounts_limit)
            )
        ]
        total = int(conn.execute(sa.select(sa.func.count()).select_from(a)).scalar_one())
        latest = [
            Transfer(*r)
            for r in conn.execute(
                sa.select(*tcols).order_by(t.c.timestamp.desc()).limit(transfers_limit)
            )
        ]
        counts: dict[str, int] = dict(
            conn.execute(sa.select(a.c.ledger, sa.func.count()).group_by(a.c.ledger)).all()
        )
        posted = sa.case((t.c.flags.op("&")(store.NOT_POSTED) == 0, t.c.amount), else_=0)
        rows = conn.execute(
            sa.select(
                t.c.ledger, sa.func.count(), sa.func.coalesce(sa.func.sum(posted), 0)
            ).group_by(t.c.ledger)
        ).all()
    by_ledger = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    volumes = [
        LedgerVolume(code, int(counts.get(code, 0)), *by_ledger.get(code, (0, 0)))
        for code in sorted(set(counts) | set(by_ledger))
    ]
    return Overview(accounts, total, latest, volumes)
