"""emit(): write an event and its deliveries inside the caller's open transaction (outbox).

Because the rows go in with the change that caused them, an event exists if and only if that
change committed: a rolled-back refund never sends `charge.refunded`, and a crash after
commit still sends it (the dispatcher reads the table). The cost on the payment path is
three statements at most: one indexed read of the merchant's enabled endpoints, one event
insert, one executemany of deliveries (none when nobody subscribes).
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rongpay.webhooks import store
from rongpay.webhooks.endpoints import subscribed_ids
from rongpay.webhooks.types import API_VERSION, EVENT_TYPES, DeliveryStatus, Owner, subscribed

_EVENT_INSERT = sa.insert(store.events)
_DELIVERY_INSERT = sa.insert(store.deliveries)


def _id(prefix: str) -> str:
    return prefix + os.urandom(12).hex()


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
    targets = [
        endpoint_id
        for endpoint_id, events_json in subscribed_ids(conn, Owner(merchant_id, livemode))
        if subscribed(orjson.loads(events_json), type)
    ]
    if targets:
        conn.execute(_DELIVERY_INSERT, [
            {"id": _id("whd_"), "event_id": event_id, "endpoint_id": endpoint_id,
             "livemode": livemode, "status": DeliveryStatus.PENDING.value, "attempts": 0,
             "next_attempt_at": when * 1000, "lease": None, "last_status_code": None,
             "last_error": None, "manual": False, "created": when * 1000}
            for endpoint_id in targets
        ])  # fmt: skip
    return event_id
