"""HTTP face of refunds and disputes (merchant keys; the operator records a network's
decision on a dispute)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from rongpay.api import listing, render, schemas
from rongpay.api.auth import CallerDep, MerchantDep
from rongpay.api.deps import EngineDep, json_body, optional_json_body, read_body
from rongpay.api.errors import ApiError
from rongpay.api.payments import GatewayDep, _answer, _call, _client, _idem
from rongpay.payments import disputes, refunds, store
from rongpay.payments.idempotency import Stored
from rongpay.payments.ops import Change
from rongpay.store.paging import fetch_page
from rongpay.store.uow import unit_of_work

router = APIRouter(tags=["refunds and disputes"])
Body = Annotated[Any, Depends(json_body)]
OptionalBody = Annotated[Any, Depends(optional_json_body)]
REFUND_400 = (
    "parameter_invalid, parameter_missing, parameter_unknown, amount_too_large, "
    "charge_already_refunded, payment_intent_unexpected_state, idempotency_error"
)
CALLBACK_MAX_BYTES = 64 * 1024
DISPUTE_400 = "parameter_invalid, parameter_unknown, dispute_unexpected_state"


def _refund_response(result: Any) -> tuple[int, bytes]:
    assert isinstance(result, Change)
    return 200, render.dumps(refunds.render(result.extra["refund"]))


@router.post(
    "/v1/refunds", summary="Refund a payment (all or part of it)",
    responses=schemas.errors(400, 401, 404, 409, 503, bad=REFUND_400),
)  # fmt: skip
async def create_refund(
    request: Request, caller: MerchantDep, gw: GatewayDep, body: Body
) -> Response:
    """A refund object; `status` is succeeded, or failed when the card issuer refused it.
    A bank-transfer refund is `pending` until the bank's callback says succeeded or failed;
    503 bank_unavailable when the bank could not be reached (nothing was refunded)."""
    idem = _idem(request, caller, body, _refund_response)
    result = await gw.refund(caller, body, idem=idem)
    if isinstance(result, Stored):
        return _answer(result)
    status, content = _refund_response(result)
    return Response(content, status_code=status, media_type="application/json")


def _listing(
    request: Request, engine: Any, table: Any, caller: Any, page: Any, one: Any
) -> Response:
    t = table.c
    with listing.cursor_errors(), unit_of_work(engine, write=False) as conn:
        mine = [t.merchant_id == caller.merchant_id, t.livemode == caller.livemode]
        intent = request.query_params.get("payment_intent")
        if intent is not None:
            mine.append(t.intent_id == intent)
        rows, more = fetch_page(conn, table, mine, page)
    return listing.list_response(request.url.path, rows, more, lambda r: one(dict(r._mapping)))


@router.get("/v1/refunds", summary="List refunds, newest first (filter: payment_intent)",
            responses=schemas.errors(400, 401, 503))  # fmt: skip
def list_refunds(
    request: Request, caller: MerchantDep, engine: EngineDep, page: listing.PageDep
) -> Response:
    return _listing(request, engine, store.refunds, caller, page, refunds.render)


@router.get("/v1/disputes", summary="List disputes, newest first",
            responses=schemas.errors(400, 401, 503))  # fmt: skip
def list_disputes(
    request: Request, caller: MerchantDep, engine: EngineDep, page: listing.PageDep
) -> Response:
    return _listing(request, engine, store.disputes, caller, page, disputes.render)


@router.get("/v1/disputes/{dispute_id}", summary="Retrieve a dispute",
            responses=schemas.errors(401, 404, 503))  # fmt: skip
def get_dispute(caller: MerchantDep, gw: GatewayDep, dispute_id: str) -> Response:
    return render.json_response(gw.get_dispute(caller, dispute_id))


async def _dispute_call(coro: Any) -> Response:
    change = await coro
    return render.json_response(disputes.render(change.extra["dispute"]))


@router.post("/v1/disputes/{dispute_id}",
             summary="Add evidence to a dispute (submit: true sends it for review)",
             responses=schemas.errors(400, 401, 404, 503, bad=DISPUTE_400))  # fmt: skip
async def update_dispute(
    caller: MerchantDep, gw: GatewayDep, dispute_id: str, body: Body
) -> Response:
    return await _dispute_call(gw.update_dispute(caller, dispute_id, body))


@router.post("/v1/disputes/{dispute_id}/close", summary="Accept a dispute (it is lost)",
             responses=schemas.errors(400, 401, 404, 503, bad=DISPUTE_400))  # fmt: skip
async def close_dispute(caller: MerchantDep, gw: GatewayDep, dispute_id: str) -> Response:
    return await _dispute_call(gw.close_dispute(caller, dispute_id, "lost"))


@router.post("/v1/disputes/{dispute_id}/resolve",
             summary="Record the card network's decision (admin): won or lost",
             responses=schemas.errors(400, 401, 404, 503, bad=DISPUTE_400))  # fmt: skip
async def resolve_dispute(
    caller: CallerDep, gw: GatewayDep, dispute_id: str, body: Body
) -> Response:
    if not caller.is_admin:
        raise ApiError(403, "admin_required", "Only the operator records a network's decision.")
    outcome = body.get("outcome") if isinstance(body, dict) else None
    if outcome not in ("won", "lost"):
        raise ApiError(400, "parameter_invalid", "`outcome` must be won or lost.", param="outcome")
    return await _dispute_call(gw.close_dispute(caller, dispute_id, outcome))


# -- asynchronous channels ----------------------------------------------------------------


@router.post(
    "/v1/bank/callback",
    summary="The bank's signed outcome of a transfer or a refund (no API key)",
    tags=["bank"], responses=schemas.errors(400, 404, 503,
                                            bad="invalid_signature, invalid_callback, "
                                                "callback_mismatch"),
)  # fmt: skip
async def bank_callback(request: Request, gw: GatewayDep) -> Response:
    """Verified with the `Bank-Signature` header; a repeat is acknowledged and changes nothing."""
    body = await read_body(request, CALLBACK_MAX_BYTES)  # no key here: read no more than this
    result = await gw.bank_callback(body, request.headers.get("bank-signature"))
    return render.json_response(result)


@router.post(
    "/v1/qr_payments", summary="Pay a scanned merchant QR code from a wallet (admin)",
    tags=["wallets"], responses=schemas.errors(400, 401, 402, 404, 503,
                                               bad="qr_*, parameter_invalid, kyc_limit_exceeded"),
)  # fmt: skip
async def pay_qr(request: Request, caller: CallerDep, gw: GatewayDep, body: Body) -> Response:
    if not caller.is_admin:
        raise ApiError(403, "admin_required", "The wallet app (operator key) pays QR codes.")
    return await _call(gw.pay_qr(caller.livemode, body, _client(request)))


@router.post(
    "/v1/bank/reconcile", summary="Ask the bank about transfers whose callback never came (admin)",
    tags=["bank"], responses=schemas.errors(400, 401, 403, 503, bad="parameter_invalid"),
)  # fmt: skip
async def reconcile_bank(caller: CallerDep, gw: GatewayDep, body: OptionalBody) -> Response:
    """`{"older_than_s": 600}`: transfers waiting longer than that are looked up at the bank
    and settled as its callback would have. The upkeep task does this every few seconds too."""
    if not caller.is_admin:
        raise ApiError(403, "admin_required", "Only the operator reconciles with the bank.")
    older = 600 if body is None or not isinstance(body, dict) else body.get("older_than_s", 600)
    if isinstance(older, bool) or not isinstance(older, int) or not 0 <= older <= 30 * 86400:
        raise ApiError(400, "parameter_invalid", "`older_than_s` must be 0 to 2592000.",
                       param="older_than_s")  # fmt: skip
    changed = await gw.reconcile_bank(older_than_s=older)
    return render.json_response({"object": "bank_reconciliation", "changed": changed})
