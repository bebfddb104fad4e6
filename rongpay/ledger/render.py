"""Ledger records as plain JSON-ready dicts, in the field names of DESIGN.md.

One rendering for every face (HTTP API, CLI, back office), so they never disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rongpay.ledger.types import (
    ACCOUNT_FLAG_BITS,
    TRANSFER_FLAG_BITS,
    Account,
    Balance,
    PendingState,
    Transfer,
    flag_names,
    render_id,
)


def rfc3339(ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 UTC with microseconds."""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat().replace("+00:00", "Z")


def account(a: Account) -> dict[str, Any]:
    return {
        "id": render_id(a.id),
        "ledger": a.ledger,
        "code": a.code,
        "flags": flag_names(a.flags, ACCOUNT_FLAG_BITS),
        "owner": a.owner,
        "debits_pending": a.debits_pending,
        "debits_posted": a.debits_posted,
        "credits_pending": a.credits_pending,
        "credits_posted": a.credits_posted,
        "timestamp": a.timestamp,
    }


def transfer(t: Transfer, pending_state: PendingState | None = None) -> dict[str, Any]:
    out = {
        "id": render_id(t.id),
        "debit_account_id": render_id(t.debit_account_id),
        "credit_account_id": render_id(t.credit_account_id),
        "amount": t.amount,
        "ledger": t.ledger,
        "code": t.code,
        "flags": flag_names(t.flags, TRANSFER_FLAG_BITS),
        "pending_id": render_id(t.pending_id),
        "timeout": t.timeout,
        "user_data": t.user_data,
        "timestamp": t.timestamp,
        "created": rfc3339(t.timestamp),
    }
    if pending_state is not None:
        out["pending_state"] = str(pending_state)
    return out


def balances(a: Account) -> dict[str, Any]:
    return {
        "account_id": render_id(a.id),
        "ledger": a.ledger,
        "debits_pending": a.debits_pending,
        "debits_posted": a.debits_posted,
        "credits_pending": a.credits_pending,
        "credits_posted": a.credits_posted,
    }


def balance_at(a: Account, found: Balance | None, at_ns: int) -> dict[str, Any]:
    """The balances at AT_NS; zeros before the account's first transfer."""
    b = found or Balance(a.id, 0, 0, 0, 0, 0)
    return {
        "account_id": render_id(a.id),
        "ledger": a.ledger,
        "at": rfc3339(at_ns),
        "as_of_transfer_timestamp": b.timestamp or None,
        "debits_pending": b.debits_pending,
        "debits_posted": b.debits_posted,
        "credits_pending": b.credits_pending,
        "credits_posted": b.credits_posted,
    }


def entry(
    transfer_: Transfer, debits_posted: int, credits_posted: int, account_id: str,
    pending_state: PendingState | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A statement line: the transfer, which side the account was on, its posted balance after."""
    out = transfer(transfer_, pending_state)
    out["direction"] = "debit" if transfer_.debit_account_id == account_id else "credit"
    out["balance"] = {"debits_posted": debits_posted, "credits_posted": credits_posted}
    return out
