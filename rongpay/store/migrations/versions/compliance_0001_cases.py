"""Compliance: alerts, cases and their action log and evidence, complaints, reports.

Revision ID: compliance_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "compliance_0001"
down_revision = None
branch_labels = ("compliance",)
depends_on = None

_rowid = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "compliance_alerts",
        sa.Column("alert_id", sa.String(64), primary_key=True),
        sa.Column("scenario", sa.String(32), nullable=False),
        sa.Column("accounts", sa.Text, nullable=False),
        sa.Column("transactions", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("raised_at", sa.BigInteger, nullable=False),
        sa.Column("case_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_compliance_alerts_case_id", "compliance_alerts", ["case_id"])
    op.create_table(
        "compliance_cases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("assignee", sa.String(128)),
        sa.Column("investigator", sa.String(128)),
        sa.Column("opened_by", sa.String(128), nullable=False),
        sa.Column("opened_at", sa.BigInteger, nullable=False),
        sa.Column("closed_by", sa.String(128)),
        sa.Column("closed_at", sa.BigInteger),
        sa.Column("resolution", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_compliance_cases_status", "compliance_cases", ["status"])
    for name, key in (("compliance_case_actions", "case_id"),):
        op.create_table(
            name,
            sa.Column("seq", _rowid, primary_key=True, autoincrement=True),
            sa.Column(key, sa.String(32), nullable=False),
            sa.Column("at", sa.BigInteger, nullable=False),
            sa.Column("actor", sa.String(128), nullable=False),
            sa.Column("action", sa.String(32), nullable=False),
            sa.Column("detail", sa.Text, nullable=False),
        )
        op.create_index(f"ix_{name}_{key}", name, [key])
    op.create_table(
        "compliance_evidence",
        sa.Column("seq", _rowid, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(256), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("added_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_compliance_evidence_case_id", "compliance_evidence", ["case_id"])
    op.create_table(
        "compliance_complaints",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("customer", sa.String(256), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("due_at", sa.BigInteger, nullable=False),
        sa.Column("resolved_at", sa.BigInteger),
        sa.Column("resolved_by", sa.String(128)),
        sa.Column("resolution", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_compliance_complaints_status", "compliance_complaints", ["status"])
    op.create_table(
        "compliance_complaint_actions",
        sa.Column("seq", _rowid, primary_key=True, autoincrement=True),
        sa.Column("complaint_id", sa.String(32), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_compliance_complaint_actions_complaint_id",
        "compliance_complaint_actions",
        ["complaint_id"],
    )
    op.create_table(
        "compliance_reports",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(32)),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "compliance_counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "compliance_counters",
        "compliance_reports",
        "compliance_complaint_actions",
        "compliance_complaints",
        "compliance_evidence",
        "compliance_case_actions",
        "compliance_cases",
        "compliance_alerts",
    ):
        op.drop_table(name)
