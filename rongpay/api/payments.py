"""HTTP face of the gateway: merchants (admin), payment intents (merchant keys).

Conventions shared by every POST here: an optional `Idempotency-Key` (the first response is
stored and replayed, `Idempotent-Replayed: true`), an optional `Rongpay-Version` (see
api/versions.py), errors in the one shape with stable codes. A declined payment answers 402
with `code` (card_declined, payment_declined), `decline_code` and the `payment_intent`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from rongpay.api import listing, render, schemas
from rongpay.api import payment_schemas as ps
from rongpay.api.auth import CallerDep, MerchantDep, require_merchant
from rongpay.api.deps import (
    EngineDep,
    checks_key,
    json_body,
    optional_json_body,
    require_admin,
)
from rongpay.api.errors import ApiError, error_body, error_response
from rongpay.api.runtime_payments import gateway_of
from rongpay.payments import merchants, store
from rongpay.payments import render as prender
from rongpay.payments.errors import Kind, PaymentError
from rongpay.payments.gateway import Client, Gateway
from rongpay.payments.idempotency import MAX_KEY, Idem, Stored, fingerprint
from rongpay.payments.intents import from_row
from rongpay.payments.ops import Change
from rongpay.payments.types import Caller
from rongpay.store.paging import fetch_page
from rongpay.store.uow import unit_of_work

router = APIRouter(tags=["payments"])
admin = APIRouter(tags=["payments"])  # merchants: operator calls, apart from the busy routes

STATUS = {
    Kind.invalid: 400, Kind.declined: 402, Kind.missing: 404, Kind.state: 400,
    Kind.conflict: 409, Kind.unavailable: 503,
}  # fmt: skip
INTENT_400 = ("parameter_invalid, parameter_missing, parameter_unknown, amount_too_small, "
              "amount_too_large, currency_invalid, invalid_number, invalid_expiry_month, "
              "invalid_expiry_year, expired_card, invalid_cvc, mandate_missing, "
              "payment_code_invalid, payment_code_expired, idempotency_error, "
              "payment_intent_unexpected_state")  # fmt: skip
GatewayDep = Annotated[Gateway, Depends(gateway_of)]
Body = Annotated[Any, Depends(json_body)]
OptionalBody = Annotated[Any, Depends(optional_json_body)]


@dataclass(frozen=True, slots=True)
class IntentCall:
    """What every payment intent POST needs: who calls, the gateway, the JSON body (None when
    empty) and the idempotency key. One dependency, resolved once: FastAPI's dependency
    solver costs more per dependency than most of what these do (rongpay bench payments)."""

    caller: Caller
    gw: Gateway
    body: Any
    idem: Idem | None
    client: Client


async def _intent_call(request: Request, read: Callable[[Request], Awaitable[Any]]) -> IntentCall:
    caller = await require_merchant(request)  # the key first: no body is read without one
    gw = await gateway_of(request)
    body = await read(request)
    return IntentCall(caller, gw, body, _idem(request, caller, body), _client(request))


@checks_key
async def intent_call(request: Request) -> IntentCall:
    return await _intent_call(request, json_body)


@checks_key
async def intent_call_no_body(request: Request) -> IntentCall:
    """The same, for routes whose body may be left out (POST .../cancel)."""
    return await _intent_call(request, optional_json_body)


IntentDep = Annotated[IntentCall, Depends(intent_call)]
IntentNoBodyDep = Annotated[IntentCall, Depends(intent_call_no_body)]


def install(app: Any) -> None:
    """Every refused payment request, wherever it is raised, leaves in the error shape."""

    async def on_payment_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, PaymentError)
        return error_response(api_error(exc))

    app.add_exception_handler(PaymentError, on_payment_error)


def api_error(exc: PaymentError) -> ApiError:
    err = ApiError(STATUS[exc.kind], exc.code, exc.message, param=exc.param)
    if exc.kind == Kind.unavailable:
        err.type = "api_error"
    return err


def _idem(request: Request, caller: Caller, body: Any, respond: Any = None) -> Idem | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY:
        raise ApiError(400, "idempotency_key_invalid",
                       f"`Idempotency-Key` must be 1 to {MAX_KEY} characters.",
                       param="Idempotency-Key")  # fmt: skip
    fp = fingerprint(request.method, request.scope["path"], body)  # (request.url parses)
    return Idem(caller.owner, caller.livemode, key, fp, respond or respond_intent)


def respond_intent(result: Any) -> tuple[int, bytes]:
    """The HTTP answer for an intent use case's result (also what an idempotent replay sends)."""
    assert isinstance(result, Change)
    intent = prender.intent(result.intent)
    failed = [t for t, _ in result.events if t == "payment_intent.payment_failed"]
    failed += ["declined"] if result.extra.get("declined") else []
    error = result.intent.last_payment_error
    if failed and error is not None:
        body = error_body(error.get("type", "card_error"), error["code"], error["message"])
        body["error"]["decline_code"] = error.get("decline_code")
        body["error"]["payment_intent"] = intent
        return 402, render.dumps(body)
    return 200, render.dumps(intent)


def _answer(result: Any) -> Response:
    if isinstance(result, Stored):
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        return Response(result.body, status_code=result.status, headers=headers,
                        media_type="application/json")  # fmt: skip
    status, body = respond_intent(result)
    return Response(body, status_code=status, media_type="application/json")


def _client(request: Request) -> Client:
    ip = request.client.host if request.client else None
    return Client(ip=ip, device_id=request.headers.get("rongpay-device-id"))


async def _call(coro: Any) -> Response:
    return _answer(await coro)


# -- merchants (operator) -----------------------------------------------------------------


@admin.post(
    "/v1/merchants", summary="Create a merchant (admin)", dependencies=[Depends(require_admin)],
    response_model=ps.Merchant, responses=schemas.errors(400, 401, 503, bad="parameter_invalid, "
    "parameter_unknown, country_invalid, currency_invalid"),
    openapi_extra={"requestBody": schemas.request_body("MerchantCreate")},
)  # fmt: skip
def create_merchant(engine: EngineDep, body: Body) -> Response:
    """The merchant with its test `secret_key` and `publishable_key`, shown only here."""
    merchant, issued = merchants.create(engine, body)
    return render.json_response({**merchants.render(merchant), **issued})


@admin.get(
    "/v1/merchants/{merchant_id}", summary="Retrieve a merchant (admin)",
    dependencies=[Depends(require_admin)], response_model=ps.Merchant,
    responses=schemas.errors(401, 404, 503),
)  # fmt: skip
def get_merchant(engine: EngineDep, merchant_id: str) -> Response:
    return render.json_response(merchants.render(merchants.get(engine, merchant_id)))


@admin.post(
    "/v1/merchants/{merchant_id}/api_keys", summary="Issue an API key (admin)",
    dependencies=[Depends(require_admin)], response_model=ps.ApiKey,
    responses=schemas.errors(400, 401, 404, 503, bad="parameter_invalid, parameter_unknown"),
    openapi_extra={"requestBody": schemas.request_body("ApiKeyCreate")},
)  # fmt: skip
def create_api_key(engine: EngineDep, merchant_id: str, body: Body) -> Response:
    """A new secret or publishable key, test or live mode; shown only here."""
    return render.json_response(merchants.issue_key(engine, merchant_id, body))


# -- payment intents ----------------------------------------------------------------------

INTENT_ERRORS = schemas.errors(400, 401, 402, 404, 409, 503, bad=INTENT_400)


@router.post(
    "/v1/payment_intents", summary="Create a payment intent (and confirm it)",
    response_model=ps.PaymentIntent, responses=INTENT_ERRORS,
    openapi_extra={"requestBody": schemas.request_body("PaymentIntentCreate")},
)  # fmt: skip
async def create_intent(call: IntentDep) -> Response:
    return await _call(call.gw.create(call.caller, call.body, idem=call.idem, client=call.client))


@router.get(
    "/v1/payment_intents", summary="List payment intents, newest first",
    response_model=ps.PaymentIntentList, responses=schemas.errors(400, 401, 503),
)  # fmt: skip
def list_intents(
    request: Request, caller: MerchantDep, engine: EngineDep, page: listing.PageDep
) -> Response:
    t = store.intents.c
    with listing.cursor_errors(), unit_of_work(engine, write=False) as conn:
        mine = [t.merchant_id == caller.merchant_id, t.livemode == caller.livemode]
        rows, more = fetch_page(conn, store.intents, mine, page)
    return listing.list_response(
        request.url.path, rows, more, lambda r: prender.intent(from_row(r))
    )


@router.get(
    "/v1/payment_intents/{intent_id}", summary="Retrieve a payment intent",
    response_model=ps.PaymentIntent, responses=INTENT_ERRORS,
)  # fmt: skip
def get_intent(caller: MerchantDep, gw: GatewayDep, intent_id: str) -> Response:
    return render.json_response(prender.intent(gw.retrieve(caller, intent_id)))


@router.post(
    "/v1/payment_intents/{intent_id}/confirm", summary="Confirm a payment intent",
    response_model=ps.PaymentIntent, responses=INTENT_ERRORS,
    openapi_extra={"requestBody": schemas.request_body("PaymentIntentConfirm")},
)  # fmt: skip
async def confirm_intent(call: IntentNoBodyDep, intent_id: str) -> Response:
    return await _call(call.gw.confirm(call.caller, intent_id, call.body, idem=call.idem,
                                       client=call.client))  # fmt: skip


@router.post(
    "/v1/payment_intents/{intent_id}/capture", summary="Capture an authorised payment",
    response_model=ps.PaymentIntent, responses=INTENT_ERRORS,
    openapi_extra={"requestBody": schemas.request_body("PaymentIntentCapture")},
)  # fmt: skip
async def capture_intent(call: IntentNoBodyDep, intent_id: str) -> Response:
    return await _call(call.gw.capture(call.caller, intent_id, call.body, idem=call.idem))


@router.post(
    "/v1/payment_intents/{intent_id}/cancel", summary="Cancel a payment intent",
    response_model=ps.PaymentIntent, responses=INTENT_ERRORS,
    openapi_extra={"requestBody": schemas.request_body("PaymentIntentCancel")},
)  # fmt: skip
async def cancel_intent(call: IntentNoBodyDep, intent_id: str) -> Response:
    return await _call(call.gw.cancel(call.caller, intent_id, call.body, idem=call.idem))


@router.post(
    "/v1/payment_intents/{intent_id}/verify_challenge",
    summary="Answer a one-time code challenge (requires_action)",
    response_model=ps.PaymentIntent, responses=INTENT_ERRORS,
    openapi_extra={"requestBody": schemas.request_body("VerifyCode")},
)  # fmt: skip
async def verify_challenge(
    request: Request, caller: MerchantDep, gw: GatewayDep, intent_id: str, body: Body
) -> Response:
    return await _call(gw.verify(caller, intent_id, body, client=_client(request)))


@router.post(
    "/v1/payment_intents/{intent_id}/release",
    summary="Approve or reject a payment held by sanctions screening (admin)",
    response_model=ps.PaymentIntent, responses=INTENT_ERRORS,
)  # fmt: skip
async def release_intent(
    request: Request, caller: CallerDep, gw: GatewayDep, intent_id: str, body: Body
) -> Response:
    """`{"decision": "approve" | "reject"}`; approve runs the payment, reject cancels it."""
    if not caller.is_admin:
        raise ApiError(403, "admin_required", "Only the operator releases held payments.")
    return await _call(gw.release(caller, intent_id, body, client=_client(request)))
