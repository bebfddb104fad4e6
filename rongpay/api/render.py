"""Ledger records as JSON objects, and a fast JSON response.

The fields come from rongpay.ledger.render, the one rendering the CLI uses too, so the faces
never disagree; the API adds Stripe's `object` and, on statements, the running balance.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import Response

from rongpay.ledger import render as ledger_render
from rongpay.ledger.service import Entry
from rongpay.ledger.types import T_PENDING, Account, Balance, PendingState, Transfer


def dumps(content: Any) -> bytes:
    """orjson, falling back to the stdlib for what orjson refuses in an echoed client value
    (integers over 64 bits, lone UTF-16 surrogates)."""
    try:
        return orjson.dumps(content)
    except TypeError:  # also orjson.JSONEncodeError, e.g. a lone surrogate in an echoed id
        return json.dumps(content, ensure_ascii=True, allow_nan=False, default=str).encode()


def json_response(
    content: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(dumps(content), status_code=status, headers=headers,
                    media_type="application/json")  # fmt: skip


def account(a: Account) -> dict[str, Any]:
    return {"object": "ledger.account", **ledger_render.account(a)}


def transfer(t: Transfer, state: PendingState | None = None) -> dict[str, Any]:
    out = {"object": "ledger.transfer", **ledger_render.transfer(t, state)}
    if t.flags & T_PENDING:
        out.setdefault("pending_state", None)
    return out


def entry(e: Entry, account_id: str, state: PendingState | None = None) -> dict[str, Any]:
    """A statement line: the transfer, which side this account was on, the balance after."""
    out = ledger_render.entry(e.transfer, e.debits_posted, e.credits_posted, account_id, state)
    if e.transfer.flags & T_PENDING:
        out.setdefault("pending_state", None)
    return {"object": "ledger.transfer", **out}


def balance(a: Account, at_ns: int | None, found: Balance | None) -> dict[str, Any]:
    """Balances now (at_ns None) or as of a past time (zeros before the first change)."""
    if at_ns is None:
        return {"object": "ledger.balance", **ledger_render.balances(a), "at": None,
                "at_ns": None, "as_of_transfer_timestamp": None}  # fmt: skip
    return {"object": "ledger.balance", **ledger_render.balance_at(a, found, at_ns),
            "at_ns": at_ns}  # fmt: skip
