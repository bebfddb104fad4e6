"""Risk: published rule-set versions (immutable) and which one is active and which in shadow.

Revision ID: risk_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "risk_0002"
down_revision = "risk_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_rule_versions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("published_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "risk_rule_roles",
        sa.Column("role", sa.String(8), primary_key=True),
        sa.Column(
            "version",
            sa.Integer,
            sa.ForeignKey("risk_rule_versions.version"),
            nullable=False,
        ),
        sa.Column("changed_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("risk_rule_roles")
    op.drop_table("risk_rule_versions")
