"""Cursor pagination over any table with an increasing `seq` and a public `id`.

Lists are newest first, as Stripe's are. A page after object X holds the objects created
before X; a page before X the ones created after it (returned newest first still). Cursors are
object ids, so a page never skips or repeats an object when new ones arrive meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

MAX_LIMIT = 100
DEFAULT_LIMIT = 10


@dataclass(frozen=True, slots=True)
class Page:
    """What the client asked: at most LIMIT objects after or before a cursor (one of them)."""

    limit: int = DEFAULT_LIMIT
    starting_after: str | None = None
    ending_before: str | None = None

    def __post_init__(self) -> None:
        assert 1 <= self.limit <= MAX_LIMIT
        assert self.starting_after is None or self.ending_before is None


class CursorMissing(LookupError):
    """The cursor names no object in this list."""

    def __init__(self, param: str, value: str) -> None:
        super().__init__(f"{param}: no such object {value!r} in this list")
        self.param = param
        self.value = value


def fetch_page(
    conn: Connection,
    table: sa.Table,
    where: Sequence[sa.ColumnElement[bool]],
    page: Page,
) -> tuple[list[Row[tuple[object, ...]]], bool]:
    """One page of TABLE's rows matching WHERE, newest first, and whether more lie beyond."""
    seq, cond = table.c.seq, list(where)
    cursor_param, cursor = (
        ("starting_after", page.starting_after)
        if page.starting_after is not None
        else ("ending_before", page.ending_before)
    )
    if cursor is not None:
        anchor = conn.execute(
            sa.select(seq).where(table.c.id == cursor, *cond)
        ).scalar_one_or_none()
        if anchor is None:
            raise CursorMissing(cursor_param, cursor)
        cond.append(seq < anchor if cursor_param == "starting_after" else seq > anchor)
    backwards = page.ending_before is not None
    order = seq.asc() if backwards else seq.desc()
    rows = list(conn.execute(sa.select(table).where(*cond).order_by(order).limit(page.limit + 1)))
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    if backwards:
        rows.reverse()
    return rows, has_more
