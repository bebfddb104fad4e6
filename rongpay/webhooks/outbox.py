"""emit(): write an event and its deliveries inside the caller's open transaction (outbox).

Because the rows go in with the change that caused them, an event exists if and only if that
change committed: a rolled-back refund never sends `charge.refunded`, and a crash after
commit still sends it (the dispatcher reads the table). The cost on the payment path is
two statements: the event insert, and one INSERT ... SELECT that makes the deliveries from
the merchant's enabled, subscribed endpoints (an indexed read inside the database, so no
endpoint cache to keep fresh and no extra round trip).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rongpay.security.entropy import random_bytes
from rongpay.webhooks import store
from rongpay.webhooks.types import (
    API_VERSION,
    EVENT_TYPES,
    WILDCARD,
    DeliveryStatus,
    EndpointStatus,
)

_PENDING = DeliveryStatus.PENDING.value

_EVENT_INSERT = sa.insert(store.events)
_EVENT_COLUMNS = ("id", "merchant_id", "livemode", "type", "created", "api_version", "data")
_DELIVERY_COLUMNS = ("id", "event_id", "endpoint_id", "livemode", "status", "attempts",
                     "next_attempt_at", "manual", "created")  # fmt: skip


def _id(prefix: str) -> str:
    return prefix + random_bytes(12).hex()


def emit(
    conn: Connection,
    *,
    merchant_id: str,
    livemode: bool,
    type: str,
    obj: dict[str, Any],
    api_version: str | None = None,
    created: int | None = None,
) -> str:
    """Record event TYPE about OBJ for the merchant, and a pending delivery to each of its
    enabled endpoints (in the same mode) subscribed to TYPE. Return the event id (`evt_...`).

    CONN must be inside a transaction the caller commits or rolls back; emit never commits.
    CREATED (unix seconds) defaults to now.
    """
    assert type in EVENT_TYPES, f"unknown event type {type!r}: add it to EventType first"
    assert conn.in_transaction(), "emit() writes into the caller's transaction"
    when = int(time.time()) if created is None else created
    event_id = _id("evt_")
    conn.execute(_EVENT_INSERT, {
        "id": event_id, "merchant_id": merchant_id, "livemode": livemode, "type": type,
        "created": when, "api_version": api_version or API_VERSION,
        "data": orjson.dumps({"object": obj}).decode(),
    })  # fmt: skip
    conn.execute(_DELIVERIES_INSERT, {
        "id_prefix": f"whd_{event_id[4:20]}x", "event_id": event_id, "livemode": livemode,
        "due": when * 1000, "merchant_id": merchant_id, "pattern": f'%"{type}"%',
    })  # fmt: skip
    return event_id


EventItem = tuple[str, bool, str, dict[str, Any], int]  # merchant, livemode, type, obj, created


def emit_many(conn: Connection, items: list[EventItem]) -> list[str]:
    """`emit` for many events at once, in two statements whatever their number: one
    executemany of events, one of the INSERT ... SELECT of their deliveries. For callers that
    commit many changes together (the payment writer's group commit)."""
    if not items:
        return []
    assert conn.in_transaction(), "emit_many() writes into the caller's transaction"
    events, deliveries = [], []
    for merchant_id, livemode, type_, obj, when in items:
        assert type_ in EVENT_TYPES, f"unknown event type {type_!r}: add it to EventType first"
        event_id = _id("evt_")
        events.append({
            "id": event_id, "merchant_id": merchant_id, "livemode": livemode, "type": type_,
            "created": when, "api_version": API_VERSION,
            "data": orjson.dumps({"object": obj}).decode(),
        })  # fmt: skip
        deliveries.append({
            "id_prefix": f"whd_{event_id[4:20]}x", "event_id": event_id, "livemode": livemode,
            "due": when * 1000, "merchant_id": merchant_id, "pattern": f'%"{type_}"%',
        })  # fmt: skip
    # the rows are plain values: the DB-API executemany, without SQLAlchemy's per-row work
    marker = "%s" if conn.dialect.name == "postgresql" else "?"
    conn.connection.driver_connection.cursor().executemany(  # type: ignore[union-attr]
        f"INSERT INTO webhook_events ({', '.join(_EVENT_COLUMNS)}) "
        f"VALUES ({', '.join([marker] * len(_EVENT_COLUMNS))})",
        [tuple(e[c] for c in _EVENT_COLUMNS) for e in events],
    )
    owners = {(d["merchant_id"], d["livemode"]) for d in deliveries}
    listening = {(r.merchant_id, bool(r.livemode)) for r in conn.execute(_LISTENING, {
        "merchants": sorted({str(m) for m, _ in owners})})}  # fmt: skip
    wanted = [d for d in deliveries if (d["merchant_id"], d["livemode"]) in listening]
    if wanted:  # most merchants have no endpoint: one cheap query instead of an insert each
        conn.execute(_DELIVERIES_INSERT, wanted)
    return [str(e["id"]) for e in events]


def _deliveries_insert() -> sa.Insert:
    """INSERT ... SELECT: one pending delivery per enabled endpoint subscribed to the type.

    Built once with bound parameters. A delivery's id is `whd_` + 16 hex digits of the
    event's random id + `x` + the endpoint's seq: unique, as one event has one delivery per
    endpoint here (ids of re-sends have no `x`).
    """
    e = store.endpoints
    due = sa.bindparam("due", type_=sa.BigInteger)
    rows = sa.select(
        sa.bindparam("id_prefix", type_=sa.String) + sa.cast(e.c.seq, sa.String),
        sa.bindparam("event_id", type_=sa.String), e.c.id,
        sa.bindparam("livemode", type_=sa.Boolean), sa.literal(_PENDING), sa.literal(0), due,
        sa.literal(False), due,
    ).where(
        e.c.merchant_id == sa.bindparam("merchant_id", type_=sa.String),
        e.c.livemode == sa.bindparam("livemode", type_=sa.Boolean),
        e.c.status == EndpointStatus.ENABLED.value,
        sa.or_(e.c.enabled_events.like(_ANY), e.c.enabled_events.like(sa.bindparam("pattern"))),
    )  # fmt: skip
    return sa.insert(store.deliveries).from_select(list(_DELIVERY_COLUMNS), rows)


# enabled_events is a JSON list of quoted names: '"charge.refunded"' matches only that type
# ('_' in a pattern matches any one character, harmless: no two event types differ so).
_ANY = f'%"{WILDCARD}"%'
_DELIVERIES_INSERT = _deliveries_insert()
_LISTENING = (
    sa.select(store.endpoints.c.merchant_id, store.endpoints.c.livemode)
    .where(store.endpoints.c.merchant_id.in_(sa.bindparam("merchants", expanding=True)),
           store.endpoints.c.status == EndpointStatus.ENABLED.value)
    .distinct()
)  # fmt: skip
