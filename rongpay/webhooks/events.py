"""Reading the event log and its deliveries, and re-sending an event by hand."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rongpay.store.paging import Page, fetch_page
from rongpay.store.uow import unit_of_work
from rongpay.webhooks import endpoints, store
from rongpay.webhooks.errors import ErrorCode, NotFound, WebhookError
from rongpay.webhooks.parse import check_cursors, plausible_id
from rongpay.webhooks.types import (
    EVENT_TYPES,
    Attempt,
    Delivery,
    DeliveryStatus,
    Event,
    Owner,
)

MAX_LOG = 50  # attempts shown per delivery (a full 3-day schedule makes about 15)


def event_from(m: Mapping[Any, Any]) -> Event:
    return Event(id=m["id"], merchant_id=m["merchant_id"], livemode=bool(m["livemode"]),
                 type=m["type"], created=int(m["created"]), api_version=m["api_version"],
                 data=orjson.loads(m["data"]))  # fmt: skip


def delivery_from(m: Mapping[Any, Any], log: tuple[Attempt, ...] = ()) -> Delivery:
    return Delivery(
        id=m["id"], event_id=m["event_id"], endpoint_id=m["endpoint_id"],
        livemode=bool(m["livemode"]), status=DeliveryStatus(m["status"]),
        attempts=int(m["attempts"]), next_attempt_at_ms=m["next_attempt_at"],
        last_status_code=m["last_status_code"], last_error=m["last_error"],
        manual=bool(m["manual"]), created_ms=int(m["created"]), log=log,
    )  # fmt: skip


def _owned(owner: Owner) -> list[sa.ColumnElement[bool]]:
    t = store.events
    return [t.c.merchant_id == owner.merchant_id, t.c.livemode == owner.livemode]


def _load(conn: Connection, owner: Owner, event_id: str, param: str = "id") -> Event:
    if not plausible_id(event_id, "evt_"):
        raise NotFound("event", event_id, param)
    row = conn.execute(
        sa.select(store.events).where(store.events.c.id == event_id, *_owned(owner))
    ).first()
    if row is None:
        raise NotFound("event", event_id, param)
    return event_from(row._mapping)


def get_event(engine: Engine, owner: Owner, event_id: str) -> Event:
    with unit_of_work(engine, write=False) as conn:
        return _load(conn, owner, event_id)


def parse_type_filter(raw: str | None) -> list[sa.ColumnElement[bool]]:
    """`type` filter: one event type, or a family such as `charge.*` / `charge.dispute.*`."""
    if raw is None:
        return []
    col = store.events.c.type
    if raw.endswith(".*"):
        prefix = raw[:-1]
        if any(t.startswith(prefix) for t in EVENT_TYPES):
            return [col.startswith(prefix, autoescape=True)]
    elif raw in EVENT_TYPES:
        return [col == raw]
    raise WebhookError(ErrorCode.EVENT_TYPE_INVALID,
                       f"`type`: {raw[:80]!r} is not an event type nor a family like 'charge.*'.",
                       param="type")  # fmt: skip


def list_events(
    engine: Engine, owner: Owner, page: Page, type_filter: str | None = None
) -> tuple[list[Event], bool]:
    where = _owned(owner) + parse_type_filter(type_filter)
    with unit_of_work(engine, write=False) as conn:
        rows, has_more = fetch_page(conn, store.events, where, check_cursors(page, "evt_"))
    return [event_from(r._mapping) for r in rows], has_more


def list_deliveries(
    engine: Engine, owner: Owner, event_id: str, page: Page
) -> tuple[list[Delivery], bool]:
    """The delivery log of one event, newest delivery first, each with its attempts."""
    d, a = store.deliveries, store.attempts
    with unit_of_work(engine, write=False) as conn:
        _load(conn, owner, event_id)
        rows, has_more = fetch_page(
            conn, d, [d.c.event_id == event_id], check_cursors(page, "whd_")
        )
        ids = [r._mapping["id"] for r in rows]
        logs: dict[str, list[Attempt]] = {i: [] for i in ids}
        query = sa.select(a).where(a.c.delivery_id.in_(ids)).order_by(a.c.seq)
        for r in conn.execute(query) if ids else ():
            m = r._mapping
            log = logs[m["delivery_id"]]
            if len(log) < MAX_LOG:
                log.append(Attempt(m["created"], m["status_code"], m["latency_ms"],
                                   m["response_excerpt"], m["error"]))  # fmt: skip
    return [delivery_from(r._mapping, tuple(logs[r._mapping["id"]])) for r in rows], has_more


def resend(
    engine: Engine, owner: Owner, event_id: str, endpoint_id: str, *, now_ms: int | None = None
) -> Delivery:
    """A new delivery of the event to one of the owner's endpoints, due at once.

    A re-send by hand is one attempt (no retry schedule): the caller sees its outcome in the
    delivery log and can send again. It goes even to a disabled endpoint, since it was asked
    for explicitly; the endpoint need not be subscribed to the event's type.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    with unit_of_work(engine) as conn:
        _load(conn, owner, event_id)
        endpoints.load(conn, owner, endpoint_id, param="endpoint")
        values = {
            "id": endpoints.new_id("whd_"), "event_id": event_id, "endpoint_id": endpoint_id,
            "livemode": owner.livemode, "status": DeliveryStatus.PENDING.value, "attempts": 0,
            "next_attempt_at": now, "lease": None, "last_status_code": None,
            "last_error": None, "manual": True, "created": now,
        }  # fmt: skip
        conn.execute(sa.insert(store.deliveries).values(values))
    return delivery_from(values)
