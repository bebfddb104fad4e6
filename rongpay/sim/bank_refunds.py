"""The SANDBOX bank's refunds: the acquirer's instruction to send money back to the payer.

A simulation, not a bank: refunds live in memory next to the orders and no money moves. The
rules mimic a real provider's so the gateway's connector meets the same situations:

- a refund is for a paid (succeeded) order, in the order's currency, and the refunds of one
  order that have not failed never add up to more than was paid;
- the acquirer names each refund with its own `reference`: the same reference again returns
  the same refund (a retry never pays twice), the same reference with other fields is refused;
- the bank answers at once with `pending`, pays out later (`refund_delay_s`) and tells the
  acquirer through a signed callback, as it does for orders. The outcome is deterministic:
  a refund to a payer whose account was closed (`POST /orders/{id}/close_account`) fails
  with `account_closed`, every other one succeeds.
No HTTP here: `bank.py` maps the error codes to statuses.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from rongpay.money import MAX_MINOR, MoneyError, currency
from rongpay.sim.bank_orders import (
    MAX_ATTEMPTS_KEPT,
    MAX_REFERENCE_CHARS,
    BankCode,
    BankSimError,
    CallbackAttempt,
    OrderBook,
    OrderStatus,
    now_rfc3339,
)

MAX_REFUNDS = 100_000  # default bound on refunds held in memory
_REFERENCE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces (as for orders)


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RefundFailure(StrEnum):
    """Why the bank could not pay a refund out."""

    ACCOUNT_CLOSED = "account_closed"


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """What the acquirer sends; two requests are a replay when they are equal."""

    order_id: str
    reference: str
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    request: RefundRequest
    status: RefundStatus
    created_at: str
    failure_code: RefundFailure | None = None
    decided_at: str | None = None
    callback_state: str = "not_due"  # not_due, scheduled, delivered, gave_up
    attempts: tuple[CallbackAttempt, ...] = ()


def parse_refund_request(order_id: str, data: Any) -> RefundRequest:
    """Validate a `POST /orders/{id}/refunds` body; BankSimError names the first bad field."""
    if not isinstance(data, dict):
        raise BankSimError(BankCode.INVALID_JSON, "the body must be a JSON object")
    reference = data.get("reference")
    if reference is None:
        raise BankSimError(BankCode.MISSING_FIELD, "reference is required", "reference")
    if not isinstance(reference, str) or not 0 < len(reference) <= MAX_REFERENCE_CHARS \
            or not _REFERENCE.match(reference):  # fmt: skip
        raise BankSimError(
            BankCode.INVALID_FIELD,
            f"reference must be 1 to {MAX_REFERENCE_CHARS} printable ASCII characters, no spaces",
            "reference",
        )
    amount = data.get("amount_minor")
    if amount is None:
        raise BankSimError(BankCode.MISSING_FIELD, "amount_minor is required", "amount_minor")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_MINOR:
        raise BankSimError(
            BankCode.INVALID_AMOUNT,
            "amount_minor must be a whole number of minor units, at least 1",
            "amount_minor",
        )
    if data.get("currency") is None:
        raise BankSimError(BankCode.MISSING_FIELD, "currency is required", "currency")
    try:
        code = currency(data["currency"]).code
    except MoneyError as exc:
        raise BankSimError(BankCode.UNKNOWN_CURRENCY, str(exc), "currency") from None
    return RefundRequest(order_id, reference, amount, code)


class RefundBook:
    """Refunds by id and by reference, over the order book. One event loop owns both."""

    def __init__(self, orders: OrderBook, max_refunds: int = MAX_REFUNDS) -> None:
        assert max_refunds > 0
        self.orders = orders
        self.max_refunds = max_refunds
        self._by_id: dict[str, Refund] = {}
        self._by_reference: dict[str, str] = {}
        self._closed_accounts: set[str] = set()  # order ids whose payer closed the account

    def __len__(self) -> int:
        return len(self._by_id)

    def create(self, request: RefundRequest) -> tuple[Refund, bool]:
        """(refund, created): a replay of the same request returns the existing refund.
        Checked in this order: the reference, the order, its state, currency, the amount."""
        existing_id = self._by_reference.get(request.reference)
        if existing_id is not None:
            existing = self._by_id[existing_id]
            if existing.request != request:
                raise BankSimError(
                    BankCode.REFERENCE_CONFLICT,
                    f"reference {request.reference!r} already names refund {existing.id} "
                    "with other fields; use a new reference",
                    "reference",
                )
            return existing, False
        order = self.orders.get(request.order_id)
        if order.status is not OrderStatus.SUCCEEDED:
            raise BankSimError(
                BankCode.ORDER_NOT_PAID,
                f"order {order.id} is {order.status}: only a paid order can be refunded",
            )
        if request.currency != order.request.currency:
            raise BankSimError(
                BankCode.CURRENCY_MISMATCH,
                f"order {order.id} was paid in {order.request.currency}",
                "currency",
            )
        left = order.request.amount_minor - self.refunded(order.id)
        if request.amount_minor > left:
            raise BankSimError(
                BankCode.REFUND_EXCEEDS_PAYMENT,
                f"only {left} of order {order.id} is left to refund",
                "amount_minor",
            )
        if len(self._by_id) >= self.max_refunds:
            raise BankSimError(
                BankCode.CAPACITY_EXCEEDED,
                f"the sandbox bank holds at most {self.max_refunds} refunds; restart it",
            )
        refund = Refund(
            id=f"br_{secrets.token_hex(12)}",
            request=request,
            status=RefundStatus.PENDING,
            created_at=now_rfc3339(),
        )
        self._by_id[refund.id] = refund
        self._by_reference[request.reference] = refund.id
        return refund, True

    def refunded(self, order_id: str) -> int:
        """What the refunds of ORDER_ID that have not failed add up to (pending ones count)."""
        return sum(
            r.request.amount_minor
            for r in self._by_id.values()
            if r.request.order_id == order_id and r.status is not RefundStatus.FAILED
        )

    def of_order(self, order_id: str) -> list[Refund]:
        """ORDER_ID's refunds, oldest first."""
        return [r for r in self._by_id.values() if r.request.order_id == order_id]

    def get(self, refund_id: str) -> Refund:
        refund = self._by_id.get(refund_id)
        if refund is None:
            raise BankSimError(BankCode.REFUND_NOT_FOUND, f"no refund {refund_id!r} at this bank")
        return refund

    def close_account(self, order_id: str) -> None:
        """The payer of ORDER_ID closed their account: refunds not yet paid out will fail."""
        self.orders.get(order_id)
        self._closed_accounts.add(order_id)

    def settle(self, refund_id: str) -> Refund | None:
        """Pay a pending refund out (or fail it): the refund, or None when it was settled."""
        refund = self.get(refund_id)
        if refund.status is not RefundStatus.PENDING:
            return None
        closed = refund.request.order_id in self._closed_accounts
        settled = replace(
            refund,
            status=RefundStatus.FAILED if closed else RefundStatus.SUCCEEDED,
            failure_code=RefundFailure.ACCOUNT_CLOSED if closed else None,
            decided_at=now_rfc3339(),
            callback_state="scheduled",
        )
        self._by_id[refund.id] = settled
        return settled

    def record_attempt(self, refund_id: str, attempt: CallbackAttempt) -> None:
        refund = self._by_id[refund_id]
        attempts = (*refund.attempts, attempt)[-MAX_ATTEMPTS_KEPT:]
        self._by_id[refund_id] = replace(refund, attempts=attempts)

    def set_callback_state(self, refund_id: str, state: str) -> None:
        self._by_id[refund_id] = replace(self._by_id[refund_id], callback_state=state)


def refund_json(refund: Refund) -> dict[str, Any]:
    """The refund as the bank's API shows it (POST /orders/{id}/refunds, GET /refunds/{id})."""
    r = refund.request
    return {
        "id": refund.id,
        "object": "refund",
        "order": r.order_id,
        "reference": r.reference,
        "amount_minor": r.amount_minor,
        "currency": r.currency,
        "status": str(refund.status),
        "failure_code": refund.failure_code and str(refund.failure_code),
        "created_at": refund.created_at,
        "decided_at": refund.decided_at,
        "callback": {
            "state": refund.callback_state,
            "attempts": [
                {
                    "number": a.number,
                    "at": a.at,
                    "status_code": a.status_code,
                    "error": a.error,
                    "duplicate": a.duplicate,
                }
                for a in refund.attempts
            ],
        },
        "simulation": True,
    }


def refund_callback(refund: Refund) -> dict[str, Any]:
    """The refund's callback payload (signed and POSTed to the order's callback URL)."""
    r = refund.request
    return {
        "type": "refund",
        "refund": refund.id,
        "order": r.order_id,
        "reference": r.reference,
        "status": str(refund.status),
        "failure_code": refund.failure_code and str(refund.failure_code),
        "amount_minor": r.amount_minor,
        "currency": r.currency,
        "decided_at": refund.decided_at,
    }
