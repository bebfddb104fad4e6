"""Unit of work: one explicit transaction per use case, with its isolation written out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

from rongpay.store.engine import is_sqlite


@contextmanager
def unit_of_work(
    engine: Engine, *, write: bool = True, isolation: str = "READ COMMITTED"
) -> Iterator[Connection]:
    """Yield a connection inside one transaction; commit on success, roll back on any error.

    SQLite: writers take the database write lock up front (BEGIN IMMEDIATE), so two writers
    never both read a balance and then both write; readers use BEGIN DEFERRED (a WAL snapshot).
    PostgreSQL: `isolation` (READ COMMITTED by default; writers lock the rows they change
    with SELECT ... FOR UPDATE, in id order, so they never deadlock).
    """
    with engine.connect() as conn:
        if is_sqlite(engine):
            conn.info["sqlite_begin"] = "IMMEDIATE" if write else "DEFERRED"
        else:
            conn = conn.execution_options(isolation_level=isolation)
        with conn.begin():
            yield conn
