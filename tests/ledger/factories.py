"""Factories for ledger tests: accounts and transfers as the API receives them."""

from __future__ import annotations

from typing import Any

from rongpay.ledger import service


def acct(aid: Any, ledger: str = "USD", code: str = "test", *flags: str) -> dict[str, Any]:
    return {"id": aid, "ledger": ledger, "code": code, "flags": list(flags)}


def xfer(
    tid: Any, debit: Any, credit: Any, amount: int, *flags: str, **extra: Any
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": tid,
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount": amount,
        "flags": list(flags),
    }
    raw.update(extra)
    return raw


def post(tid: Any, pending_id: Any, amount: int | None = None, **extra: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": tid, "pending_id": pending_id, "flags": ["post_pending"], **extra}
    if amount is not None:
        raw["amount"] = amount
    return raw


def void(tid: Any, pending_id: Any, **extra: Any) -> dict[str, Any]:
    return {"id": tid, "pending_id": pending_id, "flags": ["void_pending"], **extra}


def submit(engine, *raws: dict[str, Any]) -> list[str]:
    (results,) = service.create_transfers(engine, [service.parse_transfers(list(raws))])
    return [str(r) for r in results]


def balances(engine, aid: Any) -> tuple[int, int, int, int]:
    a = service.get_account(engine, str(aid))
    assert a is not None
    return a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted


def setup_accounts(engine, *raws: dict[str, Any]) -> None:
    results = service.create_accounts(engine, list(raws))
    assert all(r == "ok" for r in results), results
