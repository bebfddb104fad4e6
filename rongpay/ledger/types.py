"""Ledger records, flags and result codes.

Result codes are closed StrEnums listed in precedence order: when several things are wrong
with one event, the first code in the list is the one returned.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import NamedTuple

MAX_AMOUNT = 2**63 - 1  # every amount and balance is a BIGINT
MAX_BATCH = 8190  # events in one batch, as in TigerBeetle
MAX_TIMEOUT_S = 10 * 365 * 24 * 3600
MAX_USER_DATA = 256
NS = 1_000_000_000

_ID_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
_CODE_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
MAX_INT_ID = 2**63 - 1


class AccountFlag(enum.StrEnum):
    debits_must_not_exceed_credits = "debits_must_not_exceed_credits"
    credits_must_not_exceed_debits = "credits_must_not_exceed_debits"
    history = "history"


class TransferFlag(enum.StrEnum):
    linked = "linked"
    pending = "pending"
    post_pending = "post_pending"
    void_pending = "void_pending"


ACCOUNT_FLAG_BITS = {f: 1 << i for i, f in enumerate(AccountFlag)}
TRANSFER_FLAG_BITS = {f: 1 << i for i, f in enumerate(TransferFlag)}
A_DEBITS_LIMIT = ACCOUNT_FLAG_BITS[AccountFlag.debits_must_not_exceed_credits]
A_CREDITS_LIMIT = ACCOUNT_FLAG_BITS[AccountFlag.credits_must_not_exceed_debits]
A_HISTORY = ACCOUNT_FLAG_BITS[AccountFlag.history]
T_LINKED = TRANSFER_FLAG_BITS[TransferFlag.linked]
T_PENDING = TRANSFER_FLAG_BITS[TransferFlag.pending]
T_POST = TRANSFER_FLAG_BITS[TransferFlag.post_pending]
T_VOID = TRANSFER_FLAG_BITS[TransferFlag.void_pending]


class CreateAccountResult(enum.StrEnum):
    """Outcome of creating one account, in precedence order."""

    ok = "ok"
    linked_event_failed = "linked_event_failed"
    linked_event_chain_open = "linked_event_chain_open"
    id_invalid = "id_invalid"
    flags_invalid = "flags_invalid"
    flags_are_mutually_exclusive = "flags_are_mutually_exclusive"
    ledger_invalid = "ledger_invalid"
    code_invalid = "code_invalid"
    owner_invalid = "owner_invalid"
    exists_with_different_fields = "exists_with_different_fields"
    exists = "exists"


class CreateTransferResult(enum.StrEnum):
    """Outcome of creating one transfer, in precedence order."""

    ok = "ok"
    linked_event_failed = "linked_event_failed"
    linked_event_chain_open = "linked_event_chain_open"
    id_invalid = "id_invalid"
    flags_invalid = "flags_invalid"
    flags_are_mutually_exclusive = "flags_are_mutually_exclusive"
    debit_account_id_invalid = "debit_account_id_invalid"
    credit_account_id_invalid = "credit_account_id_invalid"
    accounts_must_be_different = "accounts_must_be_different"
    pending_id_required = "pending_id_required"
    pending_id_not_allowed = "pending_id_not_allowed"
    pending_id_invalid = "pending_id_invalid"
    pending_id_must_be_different = "pending_id_must_be_different"
    timeout_invalid = "timeout_invalid"
    timeout_reserved_for_pending_transfer = "timeout_reserved_for_pending_transfer"
    code_invalid = "code_invalid"
    user_data_invalid = "user_data_invalid"
    amount_invalid = "amount_invalid"
    amount_must_not_be_zero = "amount_must_not_be_zero"
    amount_overflow = "amount_overflow"
    ledger_invalid = "ledger_invalid"
    exists_with_different_fields = "exists_with_different_fields"
    exists = "exists"
    debit_account_not_found = "debit_account_not_found"
    credit_account_not_found = "credit_account_not_found"
    accounts_must_have_same_ledger = "accounts_must_have_same_ledger"
    transfer_must_have_the_same_ledger_as_accounts = (
        "transfer_must_have_the_same_ledger_as_accounts"
    )
    pending_transfer_not_found = "pending_transfer_not_found"
    pending_transfer_not_pending = "pending_transfer_not_pending"
    pending_transfer_has_different_debit_account_id = (
        "pending_transfer_has_different_debit_account_id"
    )
    pending_transfer_has_different_credit_account_id = (
        "pending_transfer_has_different_credit_account_id"
    )
    pending_transfer_has_different_ledger = "pending_transfer_has_different_ledger"
    pending_transfer_has_different_code = "pending_transfer_has_different_code"
    exceeds_pending_transfer_amount = "exceeds_pending_transfer_amount"
    pending_transfer_has_different_amount = "pending_transfer_has_different_amount"
    pending_transfer_already_posted = "pending_transfer_already_posted"
    pending_transfer_already_voided = "pending_transfer_already_voided"
    pending_transfer_expired = "pending_transfer_expired"
    overflows_debits = "overflows_debits"
    overflows_credits = "overflows_credits"
    exceeds_credits = "exceeds_credits"
    exceeds_debits = "exceeds_debits"


class PendingState(enum.StrEnum):
    pending = "pending"
    posted = "posted"
    voided = "voided"
    expired = "expired"


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    ledger: str
    code: str
    flags: int = 0
    owner: str | None = None
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    timestamp: int = 0

    def same_fields(self, other: Account) -> bool:
        return (self.ledger, self.code, self.flags, self.owner) == (
            other.ledger,
            other.code,
            other.flags,
            other.owner,
        )


class Transfer(NamedTuple):
    """An immutable movement of `amount` minor units from debit to credit account.

    For post_pending / void_pending, `debit_account_id`, `credit_account_id`, `ledger` and
    `code` may be None (taken from the pending transfer) and amount 0 means "the full amount".
    A NamedTuple rather than a frozen dataclass: the batch engine builds tens of thousands a
    second, and a tuple is both cheaper to build and the row the database takes as it is.
    """

    id: str
    debit_account_id: str | None
    credit_account_id: str | None
    amount: int
    ledger: str | None
    code: str | None = None
    flags: int = 0
    pending_id: str | None = None
    timeout: int = 0
    user_data: str | None = None
    timestamp: int = 0


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's four balances at one moment (`timestamp`, ns since the epoch)."""

    account_id: str
    timestamp: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


def parse_id(value: object) -> str | None:
    """Canonical text of a client id: a positive integer or a short token; None if malformed.

    7 and "7" name the same object. Ids are rendered back as numbers when they are canonical
    decimal integers (see render_id), as strings otherwise.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if 0 < value <= MAX_INT_ID else None
    if isinstance(value, str) and _ID_TEXT.fullmatch(value) and value != "0":
        if value.isdigit() and value[0] != "0" and int(value) > MAX_INT_ID:
            return None
        return value
    return None


def render_id(value: str | None) -> str | int | None:
    if value is not None and value.isdigit() and value[0] != "0":
        return int(value)
    return value


def parse_code(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if 0 < value < 2**31 else None
    if isinstance(value, str) and _CODE_TEXT.fullmatch(value):
        return value
    return None


def flag_names(bits: int, flag_bits: dict[AccountFlag, int] | dict[TransferFlag, int]) -> list[str]:
    return [str(f) for f, b in flag_bits.items() if bits & b]
