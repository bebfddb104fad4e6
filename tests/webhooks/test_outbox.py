from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.store.uow import unit_of_work
from rongpay.webhooks import endpoints, store
from rongpay.webhooks.outbox import emit
from rongpay.webhooks.parse import EndpointPatch
from rongpay.webhooks.types import Owner

from .conftest import OWNER, make_endpoint

URL = "https://example.com/hooks"


class Boom(Exception):
    pass


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _emit(conn: sa.Connection, type_: str = "charge.refunded", owner: Owner = OWNER) -> str:
    return emit(conn, merchant_id=owner.merchant_id, livemode=owner.livemode, type=type_,
                obj={"id": "ch_1", "object": "charge", "amount_refunded": 500})  # fmt: skip


def test_rolled_back_change_leaves_no_event(engine: Engine) -> None:
    make_endpoint(engine, URL)
    with pytest.raises(Boom), unit_of_work(engine) as conn:
        _emit(conn)
        raise Boom
    assert _count(engine, store.events) == 0
    assert _count(engine, store.deliveries) == 0


def test_committed_change_has_its_event_and_one_delivery_per_subscribed_endpoint(
    engine: Engine,
) -> None:
    every = make_endpoint(engine, URL, ["*"])
    refunds = make_endpoint(engine, URL, ["charge.refunded", "refund.created"])
    make_endpoint(engine, URL, ["payment_intent.succeeded"])  # not subscribed
    off = make_endpoint(engine, URL, ["*"])
    endpoints.update_endpoint(engine, OWNER, off.id, EndpointPatch(disabled=True))
    make_endpoint(engine, URL, ["*"], owner=Owner(OWNER.merchant_id, True))  # live mode
    make_endpoint(engine, URL, ["*"], owner=Owner("acct_other", False))  # another merchant
    with unit_of_work(engine) as conn:
        event_id = _emit(conn)
    d = store.deliveries
    with engine.connect() as conn:
        rows = conn.execute(sa.select(d.c.endpoint_id, d.c.status, d.c.event_id)).all()
    assert sorted(r[0] for r in rows) == sorted([every.id, refunds.id])
    assert {(r[1], r[2]) for r in rows} == {("pending", event_id)}
    assert event_id.startswith("evt_")


def test_emit_without_endpoints_writes_the_event_only(engine: Engine) -> None:
    with unit_of_work(engine) as conn:
        _emit(conn, "payment_intent.succeeded")
    assert (_count(engine, store.events), _count(engine, store.deliveries)) == (1, 0)


def test_unknown_event_type_is_a_programmer_error(engine: Engine) -> None:
    with pytest.raises(AssertionError, match="unknown event type"), unit_of_work(engine) as conn:
        _emit(conn, "charge.exploded")
