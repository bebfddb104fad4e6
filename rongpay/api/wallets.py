"""HTTP face of stored-value wallets: the operator's wallet app (admin key) manages customers,
their mandates and payment codes, top-ups, transfers and withdrawals. The admin acts in test
mode unless the request carries `Rongpay-Mode: live`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from rongpay.api import render, schemas
from rongpay.api.auth import MerchantDep, admin_livemode
from rongpay.api.deps import EngineDep, json_body, optional_json_body, require_admin
from rongpay.api.errors import error_body
from rongpay.api.payments import _answer, _idem
from rongpay.payments import customers, parse, wallets
from rongpay.payments.types import Caller
from rongpay.payments.writer import writer_for

router = APIRouter(tags=["wallets"])
admin = APIRouter(tags=["wallets"], dependencies=[Depends(require_admin)])
Body = Annotated[Any, Depends(json_body)]
OptionalBody = Annotated[Any, Depends(optional_json_body)]
WALLET_400 = ("parameter_invalid, parameter_unknown, currency_invalid, country_invalid, "
              "kyc_limit_exceeded (402), idempotency_error")  # fmt: skip


live = admin_livemode


def _operator(request: Request) -> Caller:
    return Caller("", live(request), is_admin=True)


@admin.post("/v1/customers", summary="Create a wallet customer (admin)",
            responses=schemas.errors(400, 401, 503, bad=WALLET_400))  # fmt: skip
def create_customer(request: Request, engine: EngineDep, body: Body) -> Response:
    return render.json_response(customers.create(engine, live(request), body))


@admin.get("/v1/customers/{customer_id}", summary="Retrieve a customer (admin)",
           responses=schemas.errors(401, 404, 503))  # fmt: skip
def get_customer(request: Request, engine: EngineDep, customer_id: str) -> Response:
    return render.json_response(customers.get(engine, customer_id, live(request)))


@admin.get("/v1/customers/{customer_id}/balance", summary="Wallet balances (admin)",
           responses=schemas.errors(401, 404, 503))  # fmt: skip
def get_balance(request: Request, engine: EngineDep, customer_id: str) -> Response:
    return render.json_response(wallets.balances(engine, customer_id, live(request)))


@admin.post("/v1/customers/{customer_id}/mandates",
            summary="Let a merchant charge the wallet (admin)",
            responses=schemas.errors(400, 401, 404, 503, bad=WALLET_400))  # fmt: skip
def grant_mandate(request: Request, engine: EngineDep, customer_id: str, body: Body) -> Response:
    return render.json_response(customers.grant_mandate(engine, customer_id, live(request), body))


@admin.delete("/v1/customers/{customer_id}/mandates/{merchant_id}",
              summary="Revoke a merchant's mandate (admin)",
              responses=schemas.errors(401, 404, 503))  # fmt: skip
def revoke_mandate(
    request: Request, engine: EngineDep, customer_id: str, merchant_id: str
) -> Response:
    return render.json_response(
        customers.revoke_mandate(engine, customer_id, live(request), merchant_id)
    )


@admin.post("/v1/customers/{customer_id}/payment_codes",
            summary="A one-time code for a till to scan (admin)",
            responses=schemas.errors(401, 404, 503))  # fmt: skip
def payment_code(request: Request, engine: EngineDep, customer_id: str) -> Response:
    return render.json_response(customers.issue_payment_code(engine, customer_id, live(request)))


async def _movement(request: Request, engine: Any, kind: str, customer: str, body: Any,
                    fields: frozenset[str]) -> Response:  # fmt: skip
    caller = _operator(request)
    fields_in, amount, cur = wallets.parse_movement(body, fields)
    to = None
    if kind == "transfer":
        to = str(parse.text(fields_in.get("to"), "to", required=True, limit=40))
        wallets.refuse_self(customer, to)
    idem = _idem(request, caller, body, _wallet_response)
    op = wallets.WalletOp(kind, caller.livemode, customer, amount, cur, to, idem=idem)
    result = await writer_for(engine).run_async(op)
    if isinstance(result, dict):
        status, content = _wallet_response(result)
        return Response(content, status_code=status, media_type="application/json")
    return _answer(result)


def _wallet_response(result: dict[str, Any]) -> tuple[int, bytes]:
    if result["status"] == "succeeded":
        return 200, render.dumps(result)
    body = error_body("payment_error", "balance_insufficient",
                      "The wallet balance is too low for this movement.")  # fmt: skip
    body["error"]["wallet_operation"] = result
    return 402, render.dumps(body)


@admin.post("/v1/customers/{customer_id}/topups", summary="Top up a wallet (admin)",
            responses=schemas.errors(400, 401, 404, 409, 503, bad=WALLET_400))  # fmt: skip
async def topup(request: Request, engine: EngineDep, customer_id: str, body: Body) -> Response:
    fields = frozenset({"amount", "currency"})
    return await _movement(request, engine, "topup", customer_id, body, fields)


@admin.post("/v1/customers/{customer_id}/withdrawals", summary="Withdraw from a wallet (admin)",
            responses=schemas.errors(400, 401, 402, 404, 409, 503, bad=WALLET_400))  # fmt: skip
async def withdraw(request: Request, engine: EngineDep, customer_id: str, body: Body) -> Response:
    fields = frozenset({"amount", "currency"})
    return await _movement(request, engine, "withdrawal", customer_id, body, fields)


@admin.post("/v1/customers/{customer_id}/transfers",
            summary="Send money to another customer's wallet (admin)",
            responses=schemas.errors(400, 401, 402, 404, 409, 503, bad=WALLET_400))  # fmt: skip
async def transfer(request: Request, engine: EngineDep, customer_id: str, body: Body) -> Response:
    fields = frozenset({"amount", "currency", "to"})
    return await _movement(request, engine, "transfer", customer_id, body, fields)


@router.post("/v1/ping", summary="No-op: authentication and JSON only (the benchmark's floor)",
             responses=schemas.errors(400, 401))  # fmt: skip
async def ping(caller: MerchantDep, body: OptionalBody) -> Response:
    return render.json_response({"object": "ping", "livemode": caller.livemode})
