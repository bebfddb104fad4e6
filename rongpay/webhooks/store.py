"""Webhook tables: endpoints, the event outbox, deliveries, and the append-only attempts log.

Events are inserted in the same transaction as the change they describe (see outbox.emit),
so an event exists if and only if its change committed. Deliveries carry the dispatcher's
state (due time, lease), so any process can pick up where a dead one stopped.
Times: `created` columns are unix seconds (what the API shows); scheduling columns are
unix milliseconds, so tests and short retry schedules are exact.
"""

from __future__ import annotations

import sqlalchemy as sa

from rongpay.store.metadata import metadata

_rowid = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("seq", _rowid, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column("merchant_id", sa.String(64), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("enabled_events", sa.Text, nullable=False),  # JSON list, or ["*"]
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("secret", sa.String(64), nullable=False),
    sa.Column("previous_secret", sa.String(64)),
    sa.Column("previous_secret_expires_at", sa.BigInteger),  # unix seconds
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Index("ix_webhook_endpoints_merchant", "merchant_id", "livemode"),
)

events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("seq", _rowid, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column("merchant_id", sa.String(64), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("api_version", sa.String(16), nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # JSON {"object": {...}}
    sa.Index("ix_webhook_events_merchant", "merchant_id", "livemode", "seq"),
)

deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("seq", _rowid, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column("event_id", sa.String(32), nullable=False),
    sa.Column("endpoint_id", sa.String(32), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.BigInteger),  # ms; also the lease end while claimed
    sa.Column("lease", sa.String(32)),  # token of the claim in flight, if any
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.String(256)),
    sa.Column("manual", sa.Boolean, nullable=False),  # a re-send by hand: one attempt
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Index("ix_webhook_deliveries_event", "event_id"),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)

attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("seq", _rowid, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(32), nullable=False, index=True),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("status_code", sa.Integer),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("response_excerpt", sa.String(512), nullable=False),
    sa.Column("error", sa.String(256)),
)
