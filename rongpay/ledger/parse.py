"""Turning client input (JSON-like dicts) into ledger records, or a precise result code.

Shape checks only: nothing here looks at the database. The batch engine judges the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rongpay import money
from rongpay.ledger.types import (
    A_CREDITS_LIMIT,
    A_DEBITS_LIMIT,
    ACCOUNT_FLAG_BITS,
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
# On account requests `linked` only ties the chain: accepted on input, never stored.
_LINKED_INPUT = 1 << 8
_ACCOUNT_INPUT_FLAGS = {**_ACCOUNT_FLAGS, str(TransferFlag.linked): _LINKED_INPUT}
_CURRENCIES = money.currencies()


def storable_text(value: object, min_len: int = 0) -> bool:
    """Free text both engines store as given: PostgreSQL refuses NUL, UTF-8 lone surrogates."""
    if not isinstance(value, str) or not min_len <= len(value) <= MAX_USER_DATA:
        return False
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


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
    return isinstance(flags, list) and "linked" in flags


def parse_account(raw: object) -> tuple[Account | None, A, bool]:
    """(account, ok) or (None, reason); the bool tells whether the event is linked."""
    if not isinstance(raw, Mapping):
        return None, A.id_invalid, False
    linked = _linked(raw)
    aid = parse_id(raw.get("id"))
    if aid is None:
        return None, A.id_invalid, linked
    flags = parse_flags(raw.get("flags"), _ACCOUNT_INPUT_FLAGS)
    if flags is None:
        return None, A.flags_invalid, linked
    flags &= ~_LINKED_INPUT
    if flags & A_DEBITS_LIMIT and flags & A_CREDITS_LIMIT:
        return None, A.flags_are_mutually_exclusive, linked
    ledger = parse_ledger(raw.get("ledger"))
    if ledger is None:
        return None, A.ledger_invalid, linked
    code = parse_code(raw.get("code"))
    if code is None:
        return None, A.code_invalid, linked
    owner = raw.get("owner")
    if owner is not None and not storable_text(owner, min_len=1):
        return None, A.owner_invalid, linked
    return Account(id=aid, ledger=ledger, code=code, flags=flags, owner=owner), A.ok, linked


def _id_or_none(value: object) -> tuple[str | None, bool]:
    """(canonical id, ok); None is allowed and gives (None, True)."""
    if value is None:
        return None, True
    parsed = parse_id(value)
    return parsed, parsed is not None


def _amount(value: object, two_phase: bool) -> R | None:
    """None when the amount is acceptable; 0 or omitted means "all" on post/void only."""
    if type(value) is int:
        if 0 < value <= MAX_AMOUNT:
            return None
        if value == 0:
            return None if two_phase else R.amount_must_not_be_zero
        return R.amount_invalid if value < 0 else R.amount_overflow
    if value is None:
        return None if two_phase else R.amount_must_not_be_zero
    return R.amount_invalid


def _references(raw: Mapping[str, Any], tid: str, two_phase: bool) -> tuple[list[Any], R | None]:
    debit, ok = _id_or_none(raw.get("debit_account_id"))
    if not ok or (debit is None and not two_phase):
        return [], R.debit_account_id_invalid
    credit, ok = _id_or_none(raw.get("credit_account_id"))
    if not ok or (credit is None and not two_phase):
        return [], R.credit_account_id_invalid
    if debit is not None and debit == credit:
        return [], R.accounts_must_be_different
    raw_pending = raw.get("pending_id")
    if raw_pending is None:
        return [debit, credit, None], R.pending_id_required if two_phase else None
    if not two_phase:
        return [], R.pending_id_not_allowed
    pending_id = parse_id(raw_pending)
    if pending_id is None:
        return [], R.pending_id_invalid
    if pending_id == tid:
        return [], R.pending_id_must_be_different
    return [debit, credit, pending_id], None


def _options(raw: Mapping[str, Any], flags: int) -> tuple[int, str | None, str | None, R | None]:
    """(timeout, code, user_data, error) for the optional fields."""
    timeout = raw.get("timeout")
    if timeout is None:
        timeout = 0
    if type(timeout) is not int or not 0 <= timeout <= MAX_TIMEOUT_S:
        return 0, None, None, R.timeout_invalid
    if timeout and not flags & T_PENDING:
        return 0, None, None, R.timeout_reserved_for_pending_transfer
    code = raw.get("code")
    if code is not None:
        code = parse_code(code)
        if code is None:
            return 0, None, None, R.code_invalid
    user_data = raw.get("user_data")
    if user_data is not None and not storable_text(user_data):
        return 0, None, None, R.user_data_invalid
    return timeout, code, user_data, None


def parse_transfer(raw: object) -> tuple[Transfer | None, R, bool]:
    """(transfer, ok) or (None, reason); the bool tells whether the event is linked.

    Checks run in the precedence order of CreateTransferResult.
    """
    if not isinstance(raw, Mapping):
        return None, R.id_invalid, False
    raw_flags = raw.get("flags")
    linked = False
    if raw_flags:
        flags = parse_flags(raw_flags, _TRANSFER_FLAGS)
        linked = isinstance(raw_flags, list) and "linked" in raw_flags
    else:
        flags = 0 if raw_flags is None or raw_flags == [] else None
    tid = parse_id(raw.get("id"))
    if tid is None:
        return None, R.id_invalid, linked
    if flags is None:
        return None, R.flags_invalid, linked
    if (flags & T_PENDING) + (flags & T_POST) + (flags & T_VOID) not in (
        0,
        T_PENDING,
        T_POST,
        T_VOID,
    ):
        return None, R.flags_are_mutually_exclusive, linked
    two_phase = bool(flags & (T_POST | T_VOID))
    refs, error = _references(raw, tid, two_phase)
    if error is None:
        timeout, code, user_data, error = _options(raw, flags)
    if error is None:
        amount = raw.get("amount")
        error = _amount(amount, two_phase)
    if error is None:
        ledger = raw.get("ledger")
        if ledger is not None and (type(ledger) is not str or ledger not in _CURRENCIES):
            error = R.ledger_invalid
    if error is not None:
        return None, error, linked
    return (
        Transfer(
            tid, refs[0], refs[1], amount or 0, ledger, code, flags, refs[2], timeout, user_data
        ),
        R.ok,
        linked,
    )


__all__ = ["T_LINKED", "AccountFlag", "parse_account", "parse_transfer"]
