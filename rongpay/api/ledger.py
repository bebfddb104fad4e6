"""HTTP face of the ledger: thin handlers that parse, call one service function, render.

Batches of transfers go through the process's group-commit writer (ledger.writer), so
requests that arrive together share one database transaction and one fsync.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from rongpay.api import render, schemas
from rongpay.api.deps import EngineDep, json_body, require_admin
from rongpay.api.errors import ApiError, not_found, parameter_invalid
from rongpay.ledger import service
from rongpay.ledger.parse import parse_ledger
from rongpay.ledger.types import (
    A_HISTORY,
    MAX_BATCH,
    MAX_INT_ID,
    T_PENDING,
    PendingState,
    Transfer,
    parse_id,
)
from rongpay.ledger.writer import writer_for

router = APIRouter(prefix="/v1/ledger", tags=["ledger"], dependencies=[Depends(require_admin)])

MAX_LIST = 100  # entries per page of an account's transfers
BATCH_400 = "invalid_json, parameter_invalid, batch_too_large"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _batch(body: Any, key: str) -> list[Any]:
    """The list under KEY in the body, checked for shape only (items are the ledger's job)."""
    if not isinstance(body, dict):
        raise parameter_invalid(None, f'The body must be a JSON object: {{"{key}": [...]}}.')
    items = body.get(key)
    if key not in body or not isinstance(items, list):
        raise parameter_invalid(key, f"`{key}` must be a list of objects.")
    if len(items) > MAX_BATCH:
        raise ApiError(400, "batch_too_large",
                       f"A batch holds at most {MAX_BATCH} items; this one has {len(items)}.",
                       param=key)  # fmt: skip
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise parameter_invalid(f"{key}[{i}]", f"`{key}[{i}]` must be an object.")
    return items


def _results(items: list[Any], codes: list[Any]) -> Response:
    results = [
        {"id": item.get("id"), "result": str(code)} for item, code in zip(items, codes, strict=True)
    ]
    return render.json_response({"results": results})


@router.post(
    "/accounts",
    summary="Create ledger accounts (batch)",
    response_model=schemas.BatchResults,
    responses=schemas.errors(400, 401, 413, 503, bad=BATCH_400),
    openapi_extra={"requestBody": schemas.request_body("AccountsRequest")},
)
def create_accounts(engine: EngineDep, body: Annotated[Any, Depends(json_body)]) -> Response:
    """One result per item, in order: `ok`, `exists` or the reason code."""
    items = _batch(body, "accounts")
    return _results(items, service.create_accounts(engine, items))


@router.post(
    "/transfers",
    summary="Submit a batch of transfers",
    response_model=schemas.BatchResults,
    responses=schemas.errors(400, 401, 413, 503, bad=BATCH_400),
    openapi_extra={"requestBody": schemas.request_body("TransfersRequest")},
)
def create_transfers(engine: EngineDep, body: Annotated[Any, Depends(json_body)]) -> Response:
    """Linked chains commit whole or not at all; each other item is judged on its own."""
    items = _batch(body, "transfers")
    parsed = service.parse_transfers(items)
    return _results(items, writer_for(engine).submit(parsed))


@router.get(
    "/accounts",
    summary="List accounts (id order), optionally of one ledger",
    response_model=schemas.AccountPage,
    responses=schemas.errors(400, 401, 503, bad="parameter_invalid"),
)
def list_accounts(
    engine: EngineDep,
    ledger: Annotated[str | None, Query(description="ISO 4217 code: only this ledger")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST, description="page size")] = 10,
    starting_after: Annotated[str | None, Query(description="an account id: the next page")] = None,
) -> Response:
    if ledger is not None and parse_ledger(ledger) is None:
        raise parameter_invalid("ledger", "`ledger` must be an ISO 4217 currency code.")
    after = None
    if starting_after is not None:
        after = parse_id(starting_after)
        if after is None:
            raise parameter_invalid("starting_after", "`starting_after` is not an account id.")
    page = service.list_accounts(engine, ledger=ledger, after_id=after, limit=limit + 1)
    return render.json_response({
        "object": "list",
        "url": "/v1/ledger/accounts",
        "data": [render.account(a) for a in page[:limit]],
        "has_more": len(page) > limit,
    })  # fmt: skip


def _account(engine: Any, raw_id: str) -> Any:
    aid = parse_id(raw_id)
    found = service.get_account(engine, aid) if aid is not None else None
    if found is None:
        raise not_found("account", raw_id)
    return found


@router.get(
    "/accounts/{id}",
    summary="Retrieve an account and its balances",
    response_model=schemas.Account,
    responses=schemas.errors(401, 404, 503),
)
def get_account(engine: EngineDep, id: str) -> Response:
    return render.json_response(render.account(_account(engine, id)))


@router.get(
    "/transfers/{id}",
    summary="Retrieve a transfer",
    response_model=schemas.Transfer,
    responses=schemas.errors(401, 404, 503),
)
def get_transfer(engine: EngineDep, id: str) -> Response:
    tid = parse_id(id)
    found = service.get_transfer(engine, tid) if tid is not None else None
    if found is None or tid is None:
        raise not_found("transfer", id)
    return render.json_response(render.transfer(found, service.pending_state(engine, tid)))


def _cursor(engine: Any, account_id: str, raw: str, param: str) -> int:
    tid = parse_id(raw)
    t = service.get_transfer(engine, tid) if tid is not None else None
    if t is None or account_id not in (t.debit_account_id, t.credit_account_id):
        raise parameter_invalid(param, f"`{param}`: no transfer {raw!r} on this account.")
    return t.timestamp


@router.get(
    "/accounts/{id}/transfers",
    summary="List an account's transfers with the running balance (newest first)",
    response_model=schemas.StatementPage,
    responses=schemas.errors(400, 401, 404, 503, bad="parameter_invalid"),
)
def list_account_transfers(
    engine: EngineDep,
    id: str,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST, description="page size")] = 10,
    starting_after: Annotated[str | None, Query(description="a transfer id: older ones")] = None,
    ending_before: Annotated[str | None, Query(description="a transfer id: newer ones")] = None,
) -> Response:
    account = _account(engine, id)
    if starting_after is not None and ending_before is not None:
        raise parameter_invalid("ending_before", "Give starting_after or ending_before, not both.")
    if ending_before is not None:
        after = _cursor(engine, account.id, ending_before, "ending_before")
        page = service.statement(engine, account.id, after=after, limit=limit + 1)
        entries = page[:limit][::-1]
    else:
        after = None
        if starting_after is not None:
            after = _cursor(engine, account.id, starting_after, "starting_after")
        page = service.statement(engine, account.id, after=after, limit=limit + 1, reverse=True)
        entries = page[:limit]
    return render.json_response({
        "object": "list",
        "url": f"/v1/ledger/accounts/{id}/transfers",
        "data": [render.entry(e, account.id, _state(engine, e.transfer)) for e in entries],
        "has_more": len(page) > limit,
    })  # fmt: skip


def _state(engine: Any, t: Transfer) -> PendingState | None:
    return service.pending_state(engine, t.id) if t.flags & T_PENDING else None


def parse_at(raw: str) -> int:
    """`at` as ns since the epoch: an integer, or an RFC 3339 time with its offset."""
    text = raw.strip()
    at_ns = -1
    if text.isdigit() and len(text) <= 19:
        at_ns = int(text)
    elif not text.isdigit():
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            delta = when - EPOCH
            at_ns = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    if not 0 <= at_ns <= MAX_INT_ID:
        raise parameter_invalid(
            "at", "`at`: an RFC 3339 time with offset (2026-11-25T12:00:00Z) or ns since "
            "the epoch, from 1970 on."
        )  # fmt: skip
    return at_ns


@router.get(
    "/accounts/{id}/balance",
    summary="An account's balances now, or at a past time (history accounts)",
    response_model=schemas.BalanceOut,
    responses=schemas.errors(400, 401, 404, 503, bad="parameter_invalid, history_not_enabled"),
)
def get_balance(
    engine: EngineDep,
    id: str,
    at: Annotated[str | None, Query(description="RFC 3339 time or ns since the epoch")] = None,
) -> Response:
    account = _account(engine, id)
    if at is None:
        return render.json_response(render.balance(account, None, None))
    at_ns = parse_at(at)
    if not account.flags & A_HISTORY:
        raise ApiError(400, "history_not_enabled",
                       "Past balances need an account created with the `history` flag.",
                       param="at")  # fmt: skip
    found = service.balance_at(engine, account.id, at_ns)
    return render.json_response(render.balance(account, at_ns, found))
