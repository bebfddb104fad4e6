"""A merchant's webhook endpoints: create, change, delete, roll the signing secret.

Each use case is one unit of work. The secret (`whsec_...`) is returned only by create and
roll_secret; every other read leaves it out. A roll keeps the previous secret signing next to
the new one for a while, so a receiver can switch without dropping a message.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rongpay.store.paging import Page, fetch_page
from rongpay.store.uow import unit_of_work
from rongpay.webhooks import store
from rongpay.webhooks.errors import ErrorCode, NotFound, WebhookError
from rongpay.webhooks.parse import EndpointPatch, EndpointSpec, check_cursors, plausible_id
from rongpay.webhooks.types import DeliveryStatus, Endpoint, EndpointStatus, Owner

MAX_ENDPOINTS = 16  # per merchant and mode, as Stripe allows


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(30)


def endpoint_from(m: Mapping[Any, Any]) -> Endpoint:
    return Endpoint(
        id=m["id"], merchant_id=m["merchant_id"], livemode=bool(m["livemode"]), url=m["url"],
        enabled_events=orjson.loads(m["enabled_events"]),
        status=EndpointStatus(m["status"]), description=m["description"],
        created=int(m["created"]), previous_secret_expires_at=m["previous_secret_expires_at"],
        secret=m["secret"], previous_secret=m["previous_secret"],
    )  # fmt: skip


def _owned(owner: Owner) -> list[sa.ColumnElement[bool]]:
    t = store.endpoints
    return [t.c.merchant_id == owner.merchant_id, t.c.livemode == owner.livemode]


def load(
    conn: Connection, owner: Owner, endpoint_id: str, *, lock: bool = False, param: str = "id"
) -> Endpoint:
    if not plausible_id(endpoint_id, "we_"):
        raise NotFound("webhook endpoint", endpoint_id, param)
    query = sa.select(store.endpoints).where(store.endpoints.c.id == endpoint_id, *_owned(owner))
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("webhook endpoint", endpoint_id, param)
    return endpoint_from(row._mapping)


def create_endpoint(
    engine: Engine, owner: Owner, spec: EndpointSpec, *, now_s: int | None = None
) -> Endpoint:
    created = int(time.time()) if now_s is None else now_s
    values: dict[str, Any] = {
        "id": new_id("we_"), "merchant_id": owner.merchant_id, "livemode": owner.livemode,
        "url": spec.url, "enabled_events": orjson.dumps(spec.enabled_events).decode(),
        "status": EndpointStatus.ENABLED.value, "description": spec.description,
        "secret": new_secret(), "previous_secret": None, "previous_secret_expires_at": None,
        "created": created,
    }  # fmt: skip
    with unit_of_work(engine) as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(store.endpoints).where(*_owned(owner))
        ).scalar_one()
        if count >= MAX_ENDPOINTS:
            raise WebhookError(ErrorCode.ENDPOINT_LIMIT_REACHED,
                               f"A merchant has at most {MAX_ENDPOINTS} endpoints per mode; "
                               "delete one first.")  # fmt: skip
        conn.execute(sa.insert(store.endpoints).values(values))
    return endpoint_from(values)


def get_endpoint(engine: Engine, owner: Owner, endpoint_id: str) -> Endpoint:
    with unit_of_work(engine, write=False) as conn:
        return load(conn, owner, endpoint_id)


def list_endpoints(engine: Engine, owner: Owner, page: Page) -> tuple[list[Endpoint], bool]:
    with unit_of_work(engine, write=False) as conn:
        rows, has_more = fetch_page(
            conn, store.endpoints, _owned(owner), check_cursors(page, "we_")
        )
    return [endpoint_from(r._mapping) for r in rows], has_more


def update_endpoint(
    engine: Engine, owner: Owner, endpoint_id: str, patch: EndpointPatch
) -> Endpoint:
    values: dict[str, object] = {}
    if patch.url is not None:
        values["url"] = patch.url
    if patch.enabled_events is not None:
        values["enabled_events"] = orjson.dumps(patch.enabled_events).decode()
    if patch.description is not None or patch.clear_description:
        values["description"] = patch.description
    if patch.disabled is not None:
        status = EndpointStatus.DISABLED if patch.disabled else EndpointStatus.ENABLED
        values["status"] = status.value
    t = store.endpoints
    with unit_of_work(engine) as conn:
        load(conn, owner, endpoint_id, lock=True)
        if values:
            conn.execute(sa.update(t).where(t.c.id == endpoint_id).values(values))
        return load(conn, owner, endpoint_id)


def delete_endpoint(engine: Engine, owner: Owner, endpoint_id: str) -> Endpoint:
    """Remove the endpoint; its pending deliveries fail (their log stays for the record)."""
    t, d = store.endpoints, store.deliveries
    with unit_of_work(engine) as conn:
        found = load(conn, owner, endpoint_id, lock=True)
        conn.execute(
            sa.update(d)
            .where(d.c.endpoint_id == endpoint_id, d.c.status == DeliveryStatus.PENDING.value)
            .values(status=DeliveryStatus.FAILED.value, next_attempt_at=None, lease=None,
                    last_error="endpoint deleted")
        )  # fmt: skip
        conn.execute(sa.delete(t).where(t.c.id == endpoint_id))
    return found


def roll_secret(
    engine: Engine, owner: Owner, endpoint_id: str, expire_previous_in_s: int,
    *, now_s: int | None = None,
) -> Endpoint:  # fmt: skip
    """A new current secret; the old one signs too for EXPIRE_PREVIOUS_IN_S seconds (0: not)."""
    now = int(time.time()) if now_s is None else now_s
    t = store.endpoints
    with unit_of_work(engine) as conn:
        old = load(conn, owner, endpoint_id, lock=True)
        keep = expire_previous_in_s > 0
        conn.execute(sa.update(t).where(t.c.id == endpoint_id).values(
            secret=new_secret(),
            previous_secret=old.secret if keep else None,
            previous_secret_expires_at=now + expire_previous_in_s if keep else None,
        ))  # fmt: skip
        return load(conn, owner, endpoint_id)
