"""The HTTP API: endpoint CRUD, secrets shown once, events, deliveries, re-send, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from rongpay.api import create_app
from rongpay.api import webhooks as webhooks_api
from rongpay.api.auth import require_merchant
from rongpay.payments.types import Caller
from rongpay.store import engine as store_engine
from rongpay.store.uow import unit_of_work
from rongpay.webhooks.dispatcher import deliver_due
from rongpay.webhooks.outbox import emit

from .conftest import Receiver

MERCHANT = "acct_api_1"
ADMIN = "rk_admin_webhooks_tests_000"


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    eng = store_engine.create(db_url)
    yield eng
    eng.dispose()


def _included(app: FastAPI) -> bool:
    return any(
        getattr(r, "original_router", None) is webhooks_api.router
        or getattr(r, "path", "") == "/v1/webhook_endpoints"
        for r in app.routes
    )


@contextmanager
def _client(db_url: str, caller: Caller) -> Iterator[TestClient]:
    """A client on the whole app, without its lifespan: no background dispatcher, so the
    tests drive deliveries themselves (deliver_due) and nothing races them."""
    app = create_app(db_url, admin_key=ADMIN)
    if not _included(app):
        app.include_router(webhooks_api.router)
    app.dependency_overrides[require_merchant] = lambda: caller
    try:
        yield TestClient(app)
    finally:
        app.state.runtime.dispose()


@pytest.fixture
def client(db_url: str, db: Engine) -> Iterator[TestClient]:
    with _client(db_url, Caller(MERCHANT, livemode=False)) as c:
        yield c


@pytest.fixture
def live(db_url: str, db: Engine) -> Iterator[TestClient]:
    with _client(db_url, Caller(MERCHANT, livemode=True)) as c:
        yield c


def assert_error(r: Any, status: int, code: str, param: str | None = None) -> None:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"type", "code", "message", "param"}
    assert (err["code"], err["param"]) == (code, param), err


def _create(client: TestClient, url: str = "https://example.com/h", **extra: Any) -> Any:
    r = client.post("/v1/webhook_endpoints", json={"url": url, "enabled_events": ["*"], **extra})
    assert r.status_code == 200, r.text
    return r.json()


def _emit(db: Engine, type_: str = "charge.refunded", livemode: bool = False) -> str:
    with unit_of_work(db) as conn:
        return emit(conn, merchant_id=MERCHANT, livemode=livemode, type=type_,
                    obj={"id": "ch_1", "object": "charge"})  # fmt: skip


def test_endpoint_crud_and_secret_shown_only_at_creation(client: TestClient) -> None:
    made = _create(client, description="orders")
    assert made["object"] == "webhook_endpoint" and made["id"].startswith("we_")
    assert made["secret"].startswith("whsec_") and made["livemode"] is False
    assert isinstance(made["created"], int) and made["status"] == "enabled"
    got = client.get(f"/v1/webhook_endpoints/{made['id']}").json()
    assert "secret" not in got and got["description"] == "orders"
    r = client.post(f"/v1/webhook_endpoints/{made['id']}",
                    json={"enabled_events": ["charge.refunded"], "disabled": True,
                          "description": None})  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["enabled_events"], r.json()["status"]) == (["charge.refunded"], "disabled")
    assert r.json()["description"] is None and "secret" not in r.json()
    r = client.delete(f"/v1/webhook_endpoints/{made['id']}")
    assert r.json() == {"id": made["id"], "object": "webhook_endpoint", "deleted": True}
    assert_error(client.get(f"/v1/webhook_endpoints/{made['id']}"), 404, "resource_missing", "id")


def test_roll_secret(client: TestClient) -> None:
    made = _create(client)
    r = client.post(f"/v1/webhook_endpoints/{made['id']}/roll_secret")
    assert r.status_code == 200, r.text
    rolled = r.json()
    assert rolled["secret"] != made["secret"] and rolled["previous_secret_expires_at"] > 0
    r = client.post(f"/v1/webhook_endpoints/{made['id']}/roll_secret",
                    json={"expire_previous_in_s": 0})  # fmt: skip
    assert r.json()["previous_secret_expires_at"] is None
    assert_error(client.post(f"/v1/webhook_endpoints/{made['id']}/roll_secret",
                             json={"expire_previous_in_s": -5}),
                 400, "parameter_invalid", "expire_previous_in_s")  # fmt: skip
    assert_error(client.post(f"/v1/webhook_endpoints/{made['id']}/roll_secret", content=b"{"),
                 400, "invalid_json")  # fmt: skip


def test_endpoint_errors(client: TestClient, live: TestClient) -> None:
    base = "/v1/webhook_endpoints"
    cases: list[tuple[Any, str, str | None]] = [
        ({"url": "ftp://x.com", "enabled_events": ["*"]}, "url_invalid", "url"),
        ({"url": "https://x.com", "enabled_events": ["charge.boom"]}, "event_type_invalid",
         "enabled_events[0]"),
        ({"url": "https://x.com"}, "parameter_missing", "enabled_events"),
        ({"url": "https://x.com", "enabled_events": ["*"], "x": 1}, "parameter_unknown", "x"),
        ([1, 2], "parameter_invalid", None),
    ]  # fmt: skip
    for body, code, param in cases:
        assert_error(client.post(base, json=body), 400, code, param)
    assert_error(client.post(base, content=b"nope"), 400, "invalid_json")
    assert_error(live.post(base, json={"url": "http://x.com", "enabled_events": ["*"]}),
                 400, "url_invalid", "url")  # fmt: skip
    assert_error(client.post(f"{base}/we_nope", json={"url": "https://y.com"}), 404,
                 "resource_missing", "id")  # fmt: skip
    for _ in range(16):
        _create(client)
    assert_error(client.post(base, json={"url": "https://x.com", "enabled_events": ["*"]}),
                 400, "endpoint_limit_reached")  # fmt: skip


def test_modes_are_separate_worlds(client: TestClient, live: TestClient, db: Engine) -> None:
    made = _create(client)
    assert_error(live.get(f"/v1/webhook_endpoints/{made['id']}"), 404, "resource_missing", "id")
    assert live.get("/v1/webhook_endpoints").json()["data"] == []
    test_event = _emit(db)
    assert_error(live.get(f"/v1/events/{test_event}"), 404, "resource_missing", "id")
    assert client.get(f"/v1/events/{test_event}").json()["livemode"] is False


def test_list_pagination(client: TestClient) -> None:
    ids = [_create(client)["id"] for _ in range(5)]
    first = client.get("/v1/webhook_endpoints", params={"limit": 2}).json()
    assert first["object"] == "list" and first["url"] == "/v1/webhook_endpoints"
    assert [e["id"] for e in first["data"]] == ids[::-1][:2] and first["has_more"]
    rest = client.get("/v1/webhook_endpoints",
                      params={"limit": 10, "starting_after": ids[3]}).json()  # fmt: skip
    assert [e["id"] for e in rest["data"]] == ids[::-1][2:] and not rest["has_more"]
    back = client.get("/v1/webhook_endpoints", params={"ending_before": ids[2]}).json()
    assert [e["id"] for e in back["data"]] == [ids[4], ids[3]]
    assert_error(client.get("/v1/webhook_endpoints", params={"starting_after": "we_zz"}),
                 400, "resource_missing", "starting_after")  # fmt: skip
    assert_error(client.get("/v1/webhook_endpoints", params={"limit": 0}), 400,
                 "parameter_invalid", "limit")  # fmt: skip


def test_events_list_filter_and_retrieve(client: TestClient, db: Engine) -> None:
    refund = _emit(db, "charge.refunded")
    dispute = _emit(db, "charge.dispute.created")
    paid = _emit(db, "payment_intent.succeeded")
    listed = client.get("/v1/events").json()
    assert [e["id"] for e in listed["data"]] == [paid, dispute, refund]
    only = client.get("/v1/events", params={"type": "charge.refunded"}).json()
    assert [e["id"] for e in only["data"]] == [refund]
    family = client.get("/v1/events", params={"type": "charge.*"}).json()
    assert [e["id"] for e in family["data"]] == [dispute, refund]
    assert_error(client.get("/v1/events", params={"type": "payout.*"}), 400,
                 "event_type_invalid", "type")  # fmt: skip
    got = client.get(f"/v1/events/{refund}").json()
    assert got["object"] == "event" and got["type"] == "charge.refunded"
    assert got["data"] == {"object": {"id": "ch_1", "object": "charge"}}
    assert_error(client.get("/v1/events/evt_nope"), 404, "resource_missing", "id")


def test_deliveries_and_resend(client: TestClient, db: Engine, receiver: Receiver) -> None:
    receiver.script = [500, 200]
    made = _create(client, url=receiver.url)
    event_id = _emit(db)
    asyncio.run(deliver_due(db))
    log = client.get(f"/v1/events/{event_id}/deliveries").json()
    [d] = log["data"]
    assert d["object"] == "webhook_delivery" and d["endpoint"] == made["id"]
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("pending", 1, 500)
    assert d["next_attempt_at"] > d["created"]
    assert d["attempt_log"][0]["status_code"] == 500
    r = client.post(f"/v1/events/{event_id}/resend", json={"endpoint": made["id"]})
    assert r.status_code == 200, r.text
    assert (r.json()["manual"], r.json()["status"]) == (True, "pending")
    asyncio.run(deliver_due(db))
    newest = client.get(f"/v1/events/{event_id}/deliveries").json()["data"][0]
    assert (newest["id"], newest["status"]) == (r.json()["id"], "delivered")
    assert_error(client.post(f"/v1/events/{event_id}/resend", json={"endpoint": "we_x"}),
                 400, "resource_missing", "endpoint")  # fmt: skip
    assert_error(client.post(f"/v1/events/{event_id}/resend", json={}), 400,
                 "parameter_missing", "endpoint")  # fmt: skip
    assert_error(client.post("/v1/events/evt_x/resend", json={"endpoint": made["id"]}),
                 404, "resource_missing", "id")  # fmt: skip
    assert_error(client.get("/v1/events/evt_x/deliveries"), 404, "resource_missing", "id")


def test_openapi_documents_the_webhook_operations(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    codes = {
        ("/v1/webhook_endpoints", "post"): "url_invalid",
        ("/v1/webhook_endpoints/{id}", "post"): "event_type_invalid",
        ("/v1/webhook_endpoints/{id}/roll_secret", "post"): "parameter_invalid",
        ("/v1/events/{id}/resend", "post"): "resource_missing",
        ("/v1/events", "get"): "event_type_invalid",
    }
    for (path, method), code in codes.items():
        op = spec["paths"][path][method]
        assert code in op["responses"]["400"]["description"], (path, method)
        assert {"401", "503"} <= set(op["responses"]) and op.get("security"), (path, method)
        assert method == "get" or "requestBody" in op, (path, method)


def test_hostile_ids_and_text_are_refused_not_crashing(client: TestClient) -> None:
    made = _create(client)
    for path in ["/v1/webhook_endpoints/we_%00", "/v1/events/evt_%00", "/v1/events/" + "x" * 300,
                 "/v1/events/evt_%C3%A9/deliveries"]:  # fmt: skip
        assert_error(client.get(path), 404, "resource_missing", "id")
    r = client.post(f"/v1/webhook_endpoints/{made['id']}", json={"description": "a\x00b"})
    assert_error(r, 400, "parameter_invalid", "description")
    r = client.post("/v1/events/evt_1/resend", json={"endpoint": "we_\x00"})
    assert_error(r, 404, "resource_missing", "id")


@pytest.mark.parametrize("path", ["/v1/webhook_endpoints", "/v1/events"])
def test_hostile_cursors_are_missing_objects(client: TestClient, path: str) -> None:
    for param in ("starting_after", "ending_before"):
        r = client.get(path, params={param: "we_\x00"})
        assert_error(r, 400, "resource_missing", param)
