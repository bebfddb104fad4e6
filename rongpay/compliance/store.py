"""Compliance tables: alerts, cases with their append-only action log and evidence,
complaints with theirs, and a record of every report generated.

Action logs (`compliance_case_actions`, `compliance_complaint_actions`) are only ever inserted
into: they are the audit trail a regulator asks for. Times are integer epoch seconds (UTC).
"""

from __future__ import annotations

import sqlalchemy as sa

from rongpay.store.metadata import metadata

_rowid = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

alerts = sa.Table(
    "compliance_alerts",
    metadata,
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("scenario", sa.String(32), nullable=False),
    sa.Column("accounts", sa.Text, nullable=False),  # JSON list
    sa.Column("transactions", sa.Text, nullable=False),  # JSON list
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("raised_at", sa.BigInteger, nullable=False),
    sa.Column("case_id", sa.String(32), nullable=True, index=True),
)

cases = sa.Table(
    "compliance_cases",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("subject", sa.String(256), nullable=False),  # the main account
    sa.Column("assignee", sa.String(128)),
    sa.Column("investigator", sa.String(128)),
    sa.Column("opened_by", sa.String(128), nullable=False),
    sa.Column("opened_at", sa.BigInteger, nullable=False),
    sa.Column("closed_by", sa.String(128)),
    sa.Column("closed_at", sa.BigInteger),
    sa.Column("resolution", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
)

case_actions = sa.Table(
    "compliance_case_actions",
    metadata,
    sa.Column("seq", _rowid, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(32), nullable=False, index=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),  # JSON object
)

evidence = sa.Table(
    "compliance_evidence",
    metadata,
    sa.Column("seq", _rowid, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(32), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # transaction | graph | document
    sa.Column("ref", sa.String(256), nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # JSON
    sa.Column("added_by", sa.String(128), nullable=False),
    sa.Column("added_at", sa.BigInteger, nullable=False),
)

complaints = sa.Table(
    "compliance_complaints",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("customer", sa.String(256), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("due_at", sa.BigInteger, nullable=False),
    sa.Column("resolved_at", sa.BigInteger),
    sa.Column("resolved_by", sa.String(128)),
    sa.Column("resolution", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
)

complaint_actions = sa.Table(
    "compliance_complaint_actions",
    metadata,
    sa.Column("seq", _rowid, primary_key=True, autoincrement=True),
    sa.Column("complaint_id", sa.String(32), nullable=False, index=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

reports = sa.Table(
    "compliance_reports",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # str | lvtr | complaints
    sa.Column("case_id", sa.String(32)),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the JSON document as generated
)

counters = sa.Table(
    "compliance_counters",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
