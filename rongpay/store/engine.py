"""Opening the database: one schema, two engines (SQLite embedded, PostgreSQL in production).

SQLite runs in WAL mode with `synchronous=FULL`, so a committed transaction survives `kill -9`
and power loss; `busy_timeout` lets several processes share one file. Migrations (Alembic) run
on open, so every command and the server always see the current schema.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

DEFAULT_SQLITE_PATH = "rongpay.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000

_migrated: set[str] = set()
_migrate_lock = threading.Lock()


class DatabaseUrlError(ValueError):
    """The database URL names no engine rongpay supports."""


def database_url(explicit: str | None = None) -> str:
    """The URL to use: the explicit one, else $RONGPAY_DB, else ./rongpay.db, normalised."""
    url = explicit or os.environ.get("RONGPAY_DB") or f"sqlite:///{DEFAULT_SQLITE_PATH}"
    return normalise_url(url)


def normalise_url(url: str) -> str:
    """Map user-facing URLs to SQLAlchemy driver URLs (psycopg 3 for PostgreSQL)."""
    url = url.strip()
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    if "://" not in url and url:
        # A bare path is a SQLite file.
        return f"sqlite:///{url}"
    raise DatabaseUrlError(
        f"unsupported database URL {url.split('://', 1)[0]!r}://...: "
        "use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
    )


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Python's sqlite3 opens transactions implicitly; we issue BEGIN ourselves so the
    # isolation of each unit of work is written out (BEGIN IMMEDIATE for writers).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA temp_store=MEMORY")
    # Checkpoint the WAL every ~64 MB rather than 4 MB: pages written by many batches (hot
    # accounts, index roots) are copied back once. Durability is the WAL's fsync per commit.
    cur.execute("PRAGMA wal_autocheckpoint=16384")
    cur.close()


def _sqlite_on_begin(conn: Any) -> None:
    # Every SQLAlchemy-begun transaction on SQLite is a writer-safe IMMEDIATE one unless the
    # unit of work asked for a read (see store.uow).
    mode = conn.info.get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


def create(url: str, *, migrate: bool = True, pool_size: int = 8) -> Engine:
    """An Engine for URL with rongpay's connection settings, migrated to the current schema."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:" and not url.startswith("sqlite:///:memory:"):
            parent = Path(path).expanduser().resolve().parent
            if not parent.is_dir():
                raise DatabaseUrlError(f"directory {parent} does not exist for the SQLite file")
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=pool_size,
            max_overflow=16,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    else:
        engine = sa.create_engine(url, pool_size=pool_size, max_overflow=16, pool_pre_ping=True)
    if migrate:
        run_migrations(engine)
    return engine


def run_migrations(engine: Engine) -> None:
    """Upgrade every migration branch to its head (idempotent; once per URL per process)."""
    key = str(engine.url)
    with _migrate_lock:
        if key in _migrated:
            return
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with engine.connect() as conn:
            if is_sqlite(engine):
                conn.info["sqlite_begin"] = "IMMEDIATE"
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
            conn.commit()
        _migrated.add(key)
