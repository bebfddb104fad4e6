"""Block/allow lists in the database, so every worker and restart sees the same lists.

One row per (list, kind, value); importing a file adds new rows and updates the reason and
date of existing ones. The table is created by migration risk_0001.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.risk.lists import Entry, Kind, ListName
from rongpay.store.metadata import metadata
from rongpay.store.uow import unit_of_work

IMPORT_CHUNK = 1000

risk_list_entries = sa.Table(
    "risk_list_entries",
    metadata,
    sa.Column("list", sa.String(8), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("value", sa.String(256), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("added", sa.String(64), nullable=False),
)


def import_entries(engine: Engine, entries: Iterable[Entry]) -> tuple[int, int]:
    """Upsert ENTRIES in one transaction; return (added, updated)."""
    t = risk_list_entries
    rows = {(e.list.value, e.kind.value, e.value): e for e in entries}
    added = updated = 0
    with unit_of_work(engine) as conn:
        existing = {
            (r.list, r.kind, r.value): (r.reason, r.added)
            for r in conn.execute(sa.select(t.c.list, t.c.kind, t.c.value, t.c.reason, t.c.added))
        }
        new = [k for k in rows if k not in existing]
        for i in range(0, len(new), IMPORT_CHUNK):
            chunk = [_row(rows[k]) for k in new[i : i + IMPORT_CHUNK]]
            conn.execute(t.insert(), chunk)
        added = len(new)
        for key, e in rows.items():
            if key in existing and existing[key] != (e.reason, e.added):
                cond = sa.and_(t.c.list == key[0], t.c.kind == key[1], t.c.value == key[2])
                conn.execute(t.update().where(cond).values(reason=e.reason, added=e.added))
                updated += 1
    return added, updated


def export_entries(engine: Engine) -> list[Entry]:
    t = risk_list_entries
    with unit_of_work(engine, write=False) as conn:
        result = conn.execute(sa.select(t).order_by(t.c.list, t.c.kind, t.c.value))
        return [Entry(ListName(r.list), Kind(r.kind), r.value, r.reason, r.added) for r in result]


def _row(e: Entry) -> dict[str, str]:
    return {
        "list": e.list.value,
        "kind": e.kind.value,
        "value": e.value,
        "reason": e.reason,
        "added": e.added,
    }
