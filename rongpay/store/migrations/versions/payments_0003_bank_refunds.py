"""Payments: where each bank-transfer refund's instruction to the bank stands.

Revision ID: payments_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "payments_0003"
down_revision = "payments_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pay_bank_refunds",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("intent_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("bank_refund_id", sa.String(length=80), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("booked", sa.Boolean(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_pay_bank_refunds_state", "pay_bank_refunds", ["state", "updated"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_pay_bank_refunds_state", table_name="pay_bank_refunds")
    op.drop_table("pay_bank_refunds")
