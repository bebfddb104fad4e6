"""Ledger: accounts, immutable transfers, pending state, balance history, batch digests.

Revision ID: ledger_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "ledger_0001"
down_revision = None
branch_labels = ("ledger",)
depends_on = None

ROWID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GENESIS_DIGEST = "0" * 64


def _balances() -> list[sa.Column[int]]:
    return [
        sa.Column(name, sa.BigInteger, nullable=False)
        for name in ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
    ]


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("ledger", sa.String(3), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(256)),
        *_balances(),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("timestamp", ROWID, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("debit_account_id", sa.String(64), nullable=False),
        sa.Column("credit_account_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("ledger", sa.String(3), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("flags", sa.Integer, nullable=False),
        sa.Column("pending_id", sa.String(64)),
        sa.Column("timeout", sa.Integer, nullable=False),
        sa.Column("user_data", sa.String(256)),
    )
    op.create_index(
        "ix_ledger_transfers_debit", "ledger_transfers", ["debit_account_id", "timestamp"]
    )
    op.create_index(
        "ix_ledger_transfers_credit", "ledger_transfers", ["credit_account_id", "timestamp"]
    )
    op.create_table(
        "ledger_pending",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.BigInteger),
        sa.Column("state", sa.String(16), nullable=False),
    )
    op.create_index(
        "ix_ledger_pending_due",
        "ledger_pending",
        ["expires_at"],
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_table(
        "ledger_history",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("timestamp", sa.BigInteger, primary_key=True),
        *_balances(),
    )
    op.create_table(
        "ledger_meta",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_batch", sa.BigInteger, nullable=False),
        sa.Column("last_digest", sa.String(64), nullable=False),
    )
    op.execute(
        "INSERT INTO ledger_meta (id, last_timestamp, last_batch, last_digest) "
        f"VALUES (1, 0, 0, '{GENESIS_DIGEST}')"
    )
    op.create_table(
        "ledger_batches",
        sa.Column("seq", ROWID, primary_key=True, autoincrement=False),
        sa.Column("first_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_timestamp", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
    )
    _immutable("ledger_transfers")
    _immutable("ledger_batches")


def _immutable(table: str) -> None:
    """Posted rows are never updated or deleted: the database itself refuses."""
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are immutable'); END"
            )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION rongpay_immutable() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME; END $$"
    )
    op.execute(
        f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION rongpay_immutable()"
    )


def downgrade() -> None:
    for table in (
        "ledger_batches",
        "ledger_meta",
        "ledger_history",
        "ledger_pending",
        "ledger_transfers",
        "ledger_accounts",
    ):
        op.drop_table(table)
