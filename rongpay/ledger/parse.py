"""Turning client input (JSON-like dicts) into ledger records, or a precise result code.

Shape checks only: nothing here looks at the database. The batch engine judges the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rongpay import money
from rongpay.ledger.types import (
    ACCOUNT_FLAG_BITS,
    A_CREDITS_LIMIT,
    A_DEBITS_LIMIT,
    MAX_AMOUNT,
    MAX_TIMEOUT_S,
    MAX_USER_DATA,
    T_LINKED,
    T_PENDING,
    T_POST,
    T_VOID,
    TRANSFER_FLAG_BITS,
    Account,
    AccountFlag,
    CreateAccountResult,
    CreateTransferResult,
    Transfer,
    TransferFlag,
    parse_code,
    parse_id,
)

R = CreateTransferResult
A = CreateAccountResult

_TRANSFER_FLAGS = {str(f): b for f, b in TRANSFER_FLAG_BITS.items()}
_ACCOUNT_FLAGS = {str(f): b for f, b in ACCOUNT_FLAG_BITS.items()}
_CURRENCIES = money.currencies()


def parse_flags(value: object, table: Mapping[str, int]) -> int | None:
    """A list of flag names (or a non-negative bitmask) to bits; None when malformed."""
    if value is None:
        return 0
    if isinstance(value, list) and len(value) <= len(table):
        bits = 0
        for name in value:
            bit = table.get(name) if isinstance(name, str) else None
            if bit is None:
                return None
            bits |= bit
        return bits
    return None


def parse_ledger(value: object) -> str | None:
    if isinstance(value, str) and value in _CURRENCIES:
        return value
    return None


def _linked(raw: Mapping[str, Any]) -> bool:
    flags = raw.get("flags")
    return isinstance(flags, list) and str(TransferFlag.linked) in flags


def parse_account(raw: object) -> tuple[Account | None, A, bool]:
    """(account, ok) or (None, reason); the bool tells whether the event is linked."""
    if not isinstance(raw, Mapping):
        return None, A.id_invalid, False
    linked = _linked(raw)
    aid = parse_id(raw.get("id"))
    if aid is None:
        return None, A.id_invalid, linked
    flags = parse_flags(raw.get("flags"), _ACCOUNT_FLAGS | {str(TransferFlag.linked): 1 << 8})
    if flags is None:
        return None, A.flags_invalid, linked
    flags &= ~(1 << 8)
    if flags & A_DEBITS_LIMIT and flags & A_CREDITS_LIMIT:
        return None, A.flags_are_mutually_exclusive, linked
    ledger = parse_ledger(raw.get("ledger"))
    if ledger is None:
        return None, A.ledger_invalid, linked
    code = parse_code(raw.get("code"))
    if code is None:
        return None, A.code_invalid, linked
    owner = raw.get("owner")
    if owner is not None and not (isinstance(owner, str) and 0 < len(owner) <= MAX_USER_DATA):
        return None, A.owner_invalid, linked
    return Account(id=aid, ledger=ledger, code=code, flags=flags, owner=owner), A.ok, linked


def _optional_id(raw: Mapping[str, Any], key: str) -> tuple[str | None, bool]:
    value = raw.get(key)
    if value is None:
        return None, True
    parsed = parse_id(value)
    return parsed, parsed is not None


def _amount(value: object, two_phase: bool) -> tuple[int, R | None]:
    if value is None:
        return 0, None if two_phase else R.amount_must_not_be_zero
    if isinstance(value, bool) or not isinstance(value, int):
        return 0, R.amount_invalid
    if value < 0:
        return 0, R.amount_invalid
    if value > MAX_AMOUNT:
        return 0, R.amount_overflow
    if value == 0 and not two_phase:
        return 0, R.amount_must_not_be_zero
    return value, None


def _check_flags(flags: int) -> R | None:
    kinds = bool(flags & T_PENDING) + bool(flags & T_POST) + bool(flags & T_VOID)
    return R.flags_are_mutually_exclusive if kinds > 1 else None


def _check_references(raw: Mapping[str, Any], tid: str, flags: int) -> tuple[list[Any], R | None]:
    two_phase = bool(flags & (T_POST | T_VOID))
    debit, ok = _optional_id(raw, "debit_account_id")
    if not ok or (debit is None and not two_phase):
        return [], R.debit_account_id_invalid
    credit, ok = _optional_id(raw, "credit_account_id")
    if not ok or (credit is None and not two_phase):
        return [], R.credit_account_id_invalid
    if debit is not None and debit == credit:
        return [], R.accounts_must_be_different
    pending_id, ok = _optional_id(raw, "pending_id")
    if two_phase and raw.get("pending_id") is None:
        return [], R.pending_id_required
    if not two_phase and raw.get("pending_id") is not None:
        return [], R.pending_id_not_allowed
    if not ok:
        return [], R.pending_id_invalid
    if pending_id == tid:
        return [], R.pending_id_must_be_different
    return [debit, credit, pending_id], None


def parse_transfer(raw: object) -> tuple[Transfer | None, R, bool]:
    """(transfer, ok) or (None, reason); the bool tells whether the event is linked."""
    if not isinstance(raw, Mapping):
        return None, R.id_invalid, False
    linked = _linked(raw)
    tid = parse_id(raw.get("id"))
    if tid is None:
        return None, R.id_invalid, linked
    flags = parse_flags(raw.get("flags"), _TRANSFER_FLAGS)
    if flags is None:
        return None, R.flags_invalid, linked
    error = _check_flags(flags)
    if error:
        return None, error, linked
    refs, error = _check_references(raw, tid, flags)
    if error:
        return None, error, linked
    timeout = raw.get("timeout") or 0
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 0 <= timeout <= MAX_TIMEOUT_S:
        return None, R.timeout_invalid, linked
    if timeout and not flags & T_PENDING:
        return None, R.timeout_reserved_for_pending_transfer, linked
    amount, error = _amount(raw.get("amount"), bool(flags & (T_POST | T_VOID)))
    if error:
        return None, error, linked
    ledger = raw.get("ledger")
    if ledger is not None and parse_ledger(ledger) is None:
        return None, R.ledger_invalid, linked
    code = raw.get("code")
    if code is not None:
        code = parse_code(code)
        if code is None:
            return None, R.code_invalid, linked
    user_data = raw.get("user_data")
    if user_data is not None and not (isinstance(user_data, str) and len(user_data) <= MAX_USER_DATA):
        return None, R.user_data_invalid, linked
    return (
        Transfer(
            id=tid,
            debit_account_id=refs[0],
            credit_account_id=refs[1],
            amount=amount,
            ledger=ledger,
            code=code,
            flags=flags,
            pending_id=refs[2],
            timeout=timeout,
            user_data=user_data,
        ),
        R.ok,
        linked,
    )


__all__ = ["AccountFlag", "T_LINKED", "parse_account", "parse_transfer"]
