"""Risk: block and allow list entries (accounts, devices, IPs, cards).

Revision ID: risk_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "risk_0001"
down_revision = None
branch_labels = ("risk",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_list_entries",
        sa.Column("list", sa.String(8), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("value", sa.String(256), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("added", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("risk_list_entries")
