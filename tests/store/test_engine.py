"""Opening databases: URLs, durable SQLite settings, migrations that run once and again."""

import pytest
import sqlalchemy as sa

from rongpay.store import engine as store_engine


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("some/file.db", "sqlite:///some/file.db"),
    ],
)
def test_normalise_url(given, expected):
    assert store_engine.normalise_url(given) == expected


def test_env_var_and_default(monkeypatch):
    monkeypatch.delenv("RONGPAY_DB", raising=False)
    assert store_engine.database_url() == "sqlite:///rongpay.db"
    monkeypatch.setenv("RONGPAY_DB", "postgresql://a@b/c")
    assert store_engine.database_url() == "postgresql+psycopg://a@b/c"
    assert store_engine.database_url("sqlite:///y.db") == "sqlite:///y.db"


@pytest.mark.parametrize("url", ["mysql://x/y", "oracle://z"])
def test_unsupported_urls(url):
    with pytest.raises(store_engine.DatabaseUrlError):
        store_engine.normalise_url(url)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(store_engine.DatabaseUrlError, match="does not exist"):
        store_engine.create(f"sqlite:///{tmp_path}/nope/x.db")


def test_sqlite_is_durable(sqlite_url):
    eng = store_engine.create(sqlite_url)
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    eng.dispose()


def test_migrations_are_idempotent(db_url):
    first = store_engine.create(db_url)
    tables = set(sa.inspect(first).get_table_names())
    assert {"ledger_accounts", "ledger_transfers", "alembic_version"} <= tables
    first.dispose()
    store_engine._migrated.clear()  # a new process: migrations run again, and change nothing
    again = store_engine.create(db_url)
    assert set(sa.inspect(again).get_table_names()) == tables
    with again.connect() as conn:
        heads = {r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}
    assert "ledger_0001" in heads
    again.dispose()
