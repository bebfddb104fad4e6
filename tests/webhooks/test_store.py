"""The migration creates exactly the tables rongpay.webhooks.store describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from rongpay.store.metadata import metadata
from rongpay.webhooks import store


def test_migration_matches_the_table_definitions(engine: Engine) -> None:
    ours = {t.name for t in (store.endpoints, store.events, store.deliveries, store.attempts)}
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    mine = [d for d in diffs if any(name in repr(d) for name in ours)]
    assert mine == []
