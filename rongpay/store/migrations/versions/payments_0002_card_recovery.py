"""Payments: what each card request sent (for the reversal of an attempt a crash cut short)
and the reversal advices waiting for the issuer's acknowledgement.

Revision ID: payments_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "payments_0002"
down_revision = "payments_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pay_card_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("intent_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("idem_owner", sa.String(length=40), nullable=True),
        sa.Column("idem_key", sa.String(length=255), nullable=True),
        sa.Column("idem_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("recovery", sa.String(length=16), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("recovered", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "pay_card_advices",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("card_token", sa.String(length=40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    op.create_index(
        "ix_pay_card_advices_status", "pay_card_advices", ["status", "seq"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_pay_card_advices_status", table_name="pay_card_advices")
    op.drop_table("pay_card_advices")
    op.drop_table("pay_card_requests")
