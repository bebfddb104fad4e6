"""HTTP face of webhooks: a merchant's endpoints, its event log, deliveries, re-sends.

Thin handlers: parse, call one rongpay.webhooks function, render. Everything is scoped to the
caller's merchant and mode (a test key sees test-mode endpoints and events only). An
endpoint's signing secret appears in two answers only: creation and roll_secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from rongpay.api import schemas
from rongpay.api.auth import MerchantDep
from rongpay.api.deps import EngineDep, json_body, read_body
from rongpay.api.errors import ApiError
from rongpay.api.listing import PageDep, cursor_errors, list_response
from rongpay.api.render import json_response
from rongpay.payments.types import Caller
from rongpay.webhooks import endpoints, events
from rongpay.webhooks.errors import ErrorCode, NotFound, WebhookError
from rongpay.webhooks.parse import parse_create, parse_rotation, parse_update
from rongpay.webhooks.types import API_VERSION, Delivery, Endpoint, Owner

router = APIRouter(prefix="/v1", tags=["webhooks"])

ENDPOINT_400 = (
    "invalid_json, parameter_unknown, parameter_missing, parameter_invalid, url_invalid, "
)
ENDPOINT_400 += "event_type_invalid, endpoint_limit_reached"
LIST_400 = "parameter_invalid, resource_missing (cursor)"
Body = Annotated[Any, Depends(json_body)]


class WebhookEndpointOut(BaseModel):
    id: str = Field(description="we_...")
    object: str = "webhook_endpoint"
    url: str
    enabled_events: list[str] = Field(description='event types, or ["*"] for all')
    status: str = Field(description="enabled or disabled")
    description: str | None
    livemode: bool
    created: int = Field(description="unix seconds")
    api_version: str
    previous_secret_expires_at: int | None = Field(
        description="unix seconds: until then the previous secret signs too (after a roll)"
    )
    secret: str | None = Field(None, description="whsec_...: only when created or rolled")


class WebhookEndpointPage(BaseModel):
    object: str = "list"
    url: str
    data: list[WebhookEndpointOut] = Field(description="newest first")
    has_more: bool


class Deleted(BaseModel):
    id: str
    object: str = "webhook_endpoint"
    deleted: bool = True


class EventData(BaseModel):
    object: dict[str, Any] = Field(description="the object the event is about, as it was then")


class EventOut(BaseModel):
    id: str = Field(description="evt_...")
    object: str = "event"
    api_version: str
    created: int = Field(description="unix seconds")
    data: EventData
    livemode: bool
    type: str


class EventPage(BaseModel):
    object: str = "list"
    url: str
    data: list[EventOut] = Field(description="newest first")
    has_more: bool


class AttemptOut(BaseModel):
    created: int = Field(description="unix seconds")
    created_ms: int
    status_code: int | None = Field(description="the endpoint's HTTP status; null: no answer")
    latency_ms: int
    response_excerpt: str = Field(description="the first bytes of the endpoint's answer")
    error: str | None


class DeliveryOut(BaseModel):
    id: str = Field(description="whd_...")
    object: str = "webhook_delivery"
    event: str
    endpoint: str
    livemode: bool
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: int | None = Field(description="unix seconds, while pending")
    last_status_code: int | None
    last_error: str | None
    manual: bool = Field(description="a re-send by hand (one attempt, no retries)")
    created: int
    attempt_log: list[AttemptOut] = Field(description="oldest first")


class DeliveryPage(BaseModel):
    object: str = "list"
    url: str
    data: list[DeliveryOut] = Field(description="newest first")
    has_more: bool


class EndpointIn(BaseModel):
    url: str = Field(description="http(s), at most 2048 characters; https in live mode")
    enabled_events: list[str] = Field(description='event types (see the docs) or ["*"]')
    description: str | None = None


class EndpointUpdate(BaseModel):
    url: str | None = None
    enabled_events: list[str] | None = None
    description: str | None = None
    disabled: bool | None = None


class RollIn(BaseModel):
    expire_previous_in_s: int = Field(86_400, ge=0, le=7 * 86_400)


class ResendIn(BaseModel):
    endpoint: str = Field(description="we_...: one of your endpoints")


def _body_doc(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    schema = model.model_json_schema()
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": required, "content": content}}


@contextmanager
def _errors() -> Iterator[None]:
    """Domain errors in the API's shape: missing objects 404 (400 when named in the body)."""
    with cursor_errors():
        try:
            yield
        except NotFound as exc:
            status = 404 if exc.param == "id" else 400
            raise ApiError(status, exc.code.value, exc.message, param=exc.param) from None
        except WebhookError as exc:
            raise ApiError(400, exc.code.value, exc.message, param=exc.param) from None


def _owner(caller: Caller) -> Owner:
    return Owner(caller.merchant_id, caller.livemode)


def render_endpoint(e: Endpoint, *, show_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": e.id, "object": "webhook_endpoint", "url": e.url,
        "enabled_events": e.enabled_events, "status": e.status.value,
        "description": e.description, "livemode": e.livemode, "created": e.created,
        "api_version": API_VERSION, "previous_secret_expires_at": e.previous_secret_expires_at,
    }  # fmt: skip
    if show_secret:
        out["secret"] = e.secret
    return out


def render_delivery(d: Delivery) -> dict[str, Any]:
    log = [
        {"created": a.created_ms // 1000, "created_ms": a.created_ms, "status_code": a.status_code,
         "latency_ms": a.latency_ms, "response_excerpt": a.response_excerpt, "error": a.error}
        for a in d.log
    ]  # fmt: skip
    next_at = d.next_attempt_at_ms // 1000 if d.next_attempt_at_ms is not None else None
    return {
        "id": d.id, "object": "webhook_delivery", "event": d.event_id, "endpoint": d.endpoint_id,
        "livemode": d.livemode, "status": d.status.value, "attempts": d.attempts,
        "next_attempt_at": next_at, "last_status_code": d.last_status_code,
        "last_error": d.last_error, "manual": d.manual, "created": d.created_ms // 1000,
        "attempt_log": log,
    }  # fmt: skip


async def optional_json_body(request: Request) -> Any:
    """The JSON body, or None when there is none (roll_secret's parameters are optional)."""
    raw = await read_body(request)
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None


@router.post(
    "/webhook_endpoints",
    summary="Create a webhook endpoint (its secret is shown only here)",
    response_model=WebhookEndpointOut,
    responses=schemas.errors(400, 401, 413, 503, bad=ENDPOINT_400),
    openapi_extra=_body_doc(EndpointIn),
)
def create_endpoint(engine: EngineDep, caller: MerchantDep, body: Body) -> Response:
    with _errors():
        spec = parse_create(body, livemode=caller.livemode)
        found = endpoints.create_endpoint(engine, _owner(caller), spec)
    return json_response(render_endpoint(found, show_secret=True))


@router.get(
    "/webhook_endpoints",
    summary="List webhook endpoints (newest first)",
    response_model=WebhookEndpointPage,
    responses=schemas.errors(400, 401, 503, bad=LIST_400),
)
def list_endpoints(engine: EngineDep, caller: MerchantDep, page: PageDep) -> Response:
    with _errors():
        rows, has_more = endpoints.list_endpoints(engine, _owner(caller), page)
    return list_response("/v1/webhook_endpoints", rows, has_more, render_endpoint)


@router.get(
    "/webhook_endpoints/{id}",
    summary="Retrieve a webhook endpoint",
    response_model=WebhookEndpointOut,
    responses=schemas.errors(401, 404, 503),
)
def get_endpoint(engine: EngineDep, caller: MerchantDep, id: str) -> Response:
    with _errors():
        found = endpoints.get_endpoint(engine, _owner(caller), id)
    return json_response(render_endpoint(found))


@router.post(
    "/webhook_endpoints/{id}",
    summary="Update a webhook endpoint (url, enabled_events, description, disabled)",
    response_model=WebhookEndpointOut,
    responses=schemas.errors(400, 401, 404, 413, 503, bad=ENDPOINT_400),
    openapi_extra=_body_doc(EndpointUpdate),
)
def update_endpoint(engine: EngineDep, caller: MerchantDep, id: str, body: Body) -> Response:
    with _errors():
        patch = parse_update(body, livemode=caller.livemode)
        found = endpoints.update_endpoint(engine, _owner(caller), id, patch)
    return json_response(render_endpoint(found))


@router.delete(
    "/webhook_endpoints/{id}",
    summary="Delete a webhook endpoint (its pending deliveries fail)",
    response_model=Deleted,
    responses=schemas.errors(401, 404, 503),
)
def delete_endpoint(engine: EngineDep, caller: MerchantDep, id: str) -> Response:
    with _errors():
        found = endpoints.delete_endpoint(engine, _owner(caller), id)
    return json_response({"id": found.id, "object": "webhook_endpoint", "deleted": True})


@router.post(
    "/webhook_endpoints/{id}/roll_secret",
    summary="Roll the signing secret; the previous one keeps signing for a while",
    response_model=WebhookEndpointOut,
    responses=schemas.errors(400, 401, 404, 413, 503,
                             bad="invalid_json, parameter_unknown, parameter_invalid"),
    openapi_extra=_body_doc(RollIn, required=False),
)  # fmt: skip
def roll_secret(
    engine: EngineDep, caller: MerchantDep, id: str,
    body: Annotated[Any, Depends(optional_json_body)],
) -> Response:  # fmt: skip
    with _errors():
        expire_s = parse_rotation(body)
        found = endpoints.roll_secret(engine, _owner(caller), id, expire_s)
    return json_response(render_endpoint(found, show_secret=True))


@router.get(
    "/events",
    summary="List events (newest first), optionally of one type or family (`charge.*`)",
    response_model=EventPage,
    responses=schemas.errors(400, 401, 503, bad=LIST_400 + ", event_type_invalid"),
)
def list_events(
    engine: EngineDep, caller: MerchantDep, page: PageDep,
    type: Annotated[str | None, Query(max_length=64, description="e.g. charge.refunded")] = None,
) -> Response:  # fmt: skip
    with _errors():
        rows, has_more = events.list_events(engine, _owner(caller), page, type)
    return list_response("/v1/events", rows, has_more, lambda e: e.payload())


@router.get(
    "/events/{id}",
    summary="Retrieve an event",
    response_model=EventOut,
    responses=schemas.errors(401, 404, 503),
)
def get_event(engine: EngineDep, caller: MerchantDep, id: str) -> Response:
    with _errors():
        found = events.get_event(engine, _owner(caller), id)
    return json_response(found.payload())


@router.get(
    "/events/{id}/deliveries",
    summary="An event's deliveries and their attempts (newest delivery first)",
    response_model=DeliveryPage,
    responses=schemas.errors(400, 401, 404, 503, bad=LIST_400),
)
def list_deliveries(engine: EngineDep, caller: MerchantDep, id: str, page: PageDep) -> Response:
    with _errors():
        rows, has_more = events.list_deliveries(engine, _owner(caller), id, page)
    return list_response(f"/v1/events/{id}/deliveries", rows, has_more, render_delivery)


@router.post(
    "/events/{id}/resend",
    summary="Send an event again to one endpoint, by hand (one attempt, soon)",
    response_model=DeliveryOut,
    responses=schemas.errors(400, 401, 404, 413, 503,
                             bad="invalid_json, parameter_unknown, parameter_missing, "
                                 "parameter_invalid, resource_missing (endpoint)"),
    openapi_extra=_body_doc(ResendIn),
)  # fmt: skip
def resend(engine: EngineDep, caller: MerchantDep, id: str, body: Body) -> Response:
    with _errors():
        endpoint_id = _resend_target(body)
        found = events.resend(engine, _owner(caller), id, endpoint_id)
    return json_response(render_delivery(found))


def _resend_target(body: Any) -> str:
    if not isinstance(body, dict):
        raise WebhookError(ErrorCode.PARAMETER_INVALID, 'The body must be {"endpoint": "we_..."}.')
    unknown = sorted(k for k in body if k != "endpoint")
    if unknown:
        raise WebhookError(ErrorCode.PARAMETER_UNKNOWN, f"Unknown parameter {unknown[0][:64]!r}.",
                           param=unknown[0][:64])  # fmt: skip
    target = body.get("endpoint")
    if target is None:
        raise WebhookError(ErrorCode.PARAMETER_MISSING, "`endpoint` is required.", "endpoint")
    if not isinstance(target, str) or not target or len(target) > 255:
        raise WebhookError(ErrorCode.PARAMETER_INVALID, "`endpoint` must be an endpoint id.",
                           param="endpoint")  # fmt: skip
    return target
