"""Shared fixtures: a fresh database on each engine (SQLite always, PostgreSQL when
RONGPAY_TEST_PG is set), each test in its own file or schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.store import engine as store_engine

PG_URL = os.environ.get("RONGPAY_TEST_PG")


def _pg_schema_url(schema: str) -> str:
    base = store_engine.normalise_url(PG_URL or "")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'rongpay.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("RONGPAY_TEST_PG not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(store_engine.normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_url(request) -> str:
    """A fresh, migrated-on-open database URL on each engine."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url) -> Iterator[Engine]:
    eng = store_engine.create(db_url)
    try:
        yield eng
    finally:
        eng.dispose()
