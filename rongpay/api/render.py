"""Ledger records as JSON objects, and a fast JSON response.

Ids and codes go back as numbers when the client may have sent numbers (canonical decimal)
and as strings otherwise (ledger.types.render_id); flags go back as lists of names.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import Response

from rongpay.ledger.service import Entry
from rongpay.ledger.types import (
    ACCOUNT_FLAG_BITS,
    T_PENDING,
    TRANSFER_FLAG_BITS,
    Account,
    Balance,
    PendingState,
    Transfer,
    flag_names,
    render_id,
)


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
    return {
        "object": "ledger.account",
        "id": render_id(a.id),
        "ledger": a.ledger,
        "code": render_id(a.code),
        "flags": flag_names(a.flags, ACCOUNT_FLAG_BITS),
        "debits_pending": a.debits_pending,
        "debits_posted": a.debits_posted,
        "credits_pending": a.credits_pending,
        "credits_posted": a.credits_posted,
        "owner": a.owner,
        "timestamp": a.timestamp,
    }


def transfer(t: Transfer, state: PendingState | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "object": "ledger.transfer",
        "id": render_id(t.id),
        "debit_account_id": render_id(t.debit_account_id),
        "credit_account_id": render_id(t.credit_account_id),
        "amount": t.amount,
        "ledger": t.ledger,
        "code": render_id(t.code),
        "flags": flag_names(t.flags, TRANSFER_FLAG_BITS),
        "pending_id": render_id(t.pending_id),
        "timeout": t.timeout,
        "user_data": t.user_data,
        "timestamp": t.timestamp,
    }
    if t.flags & T_PENDING:
        out["pending_state"] = str(state) if state is not None else None
    return out


def entry(e: Entry, account_id: str, state: PendingState | None = None) -> dict[str, Any]:
    """A statement line: the transfer, which side this account was on, the balance after."""
    out = transfer(e.transfer, state)
    out["direction"] = "debit" if e.transfer.debit_account_id == account_id else "credit"
    out["balance"] = {"debits_posted": e.debits_posted, "credits_posted": e.credits_posted}
    return out


def balance(a: Account, at_ns: int | None, found: Balance | None) -> dict[str, Any]:
    """Balances now (at_ns None) or as of a past time (zeros before the first change)."""
    if at_ns is None:
        values = (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
        as_of = None
    elif found is None:
        values, as_of = (0, 0, 0, 0), None
    else:
        values = (found.debits_pending, found.debits_posted, found.credits_pending,
                  found.credits_posted)  # fmt: skip
        as_of = found.timestamp
    return {
        "object": "ledger.balance",
        "account_id": render_id(a.id),
        "ledger": a.ledger,
        "at": at_ns,
        "timestamp": as_of,
        "debits_pending": values[0],
        "debits_posted": values[1],
        "credits_pending": values[2],
        "credits_posted": values[3],
    }
