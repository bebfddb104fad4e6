"""The SANDBOX bank's orders: validation, idempotency on the merchant reference, decisions.

This is a simulation of an online-banking provider, not a bank. Orders live in memory only
(they vanish when the process stops) and no money moves anywhere. The rules mimic a real
provider's so the gateway's connector meets the same situations: a reference names an order
(a replay returns the same order, a replay with other fields is refused), a customer decides
once, and the outcome reaches the gateway later through a signed callback (`bank_callbacks`).
No HTTP here: `bank.py` maps the error codes below to statuses.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from rongpay.money import MAX_MINOR, MoneyError, currency

MAX_ORDERS = 100_000  # default bound on orders held in memory
MAX_REFERENCE_CHARS = 128
MAX_DESCRIPTION_CHARS = 255
MAX_URL_CHARS = 2048
MAX_ATTEMPTS_KEPT = 32  # callback attempts remembered per order (8 tries plus duplicates)

_REFERENCE = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


class OrderStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class FailureCode(StrEnum):
    """Why the bank declined; the customer picks one on the bank's page."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    ACCOUNT_CLOSED = "account_closed"
    DECLINED_BY_CUSTOMER = "declined_by_customer"


class BankCode(StrEnum):
    """Every error the sandbox bank answers, in the order it checks them."""

    UNAUTHORIZED = "unauthorized"
    INVALID_JSON = "invalid_json"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_CURRENCY = "unknown_currency"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_URL = "invalid_url"
    INVALID_DECISION = "invalid_decision"
    INVALID_FAILURE_CODE = "invalid_failure_code"
    ORDER_NOT_FOUND = "order_not_found"
    REFUND_NOT_FOUND = "refund_not_found"
    REFERENCE_CONFLICT = "reference_conflict"
    ALREADY_DECIDED = "already_decided"
    ORDER_NOT_PAID = "order_not_paid"  # a refund of an order that did not succeed
    CURRENCY_MISMATCH = "currency_mismatch"  # a refund in another currency than the order's
    REFUND_EXCEEDS_PAYMENT = "refund_exceeds_payment"  # the refunds would pass what was paid
    CAPACITY_EXCEEDED = "capacity_exceeded"
    ROUTE_NOT_FOUND = "route_not_found"  # no such endpoint
    METHOD_NOT_ALLOWED = "method_not_allowed"


class BankSimError(Exception):
    """A refused request: CODE is stable, the message says what to fix, PARAM names the field."""

    def __init__(self, code: BankCode, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """The fields a merchant (the gateway) sends; two requests are a replay when they are equal."""

    reference: str
    amount_minor: int
    currency: str
    description: str
    return_url: str
    callback_url: str


@dataclass(frozen=True, slots=True)
class CallbackAttempt:
    number: int
    at: str
    status_code: int | None  # None when the gateway could not be reached
    error: str | None
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    request: OrderRequest
    status: OrderStatus
    created_at: str
    failure_code: FailureCode | None = None
    decided_at: str | None = None
    callback_state: str = "not_due"  # not_due, scheduled, delivered, gave_up
    attempts: tuple[CallbackAttempt, ...] = ()


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _field(data: dict[str, Any], name: str, *, required: bool = True) -> Any:
    if name not in data or data[name] is None:
        if required:
            raise BankSimError(BankCode.MISSING_FIELD, f"{name} is required", name)
        return None
    return data[name]


def _text(data: dict[str, Any], name: str, max_chars: int, *, required: bool = True) -> str:
    value = _field(data, name, required=required)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_chars:
        raise BankSimError(
            BankCode.INVALID_FIELD,
            f"{name} must be a string of at most {max_chars} characters",
            name,
        )
    return value


def _url(data: dict[str, Any], name: str) -> str:
    value = _text(data, name, MAX_URL_CHARS)
    parts = urlsplit(value)
    try:
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number or out of range
        valid = False
    if not valid or any(c.isspace() for c in value):
        message = f"{name} must be an absolute http(s) URL, e.g. https://shop.example/return"
        raise BankSimError(BankCode.INVALID_URL, message, name)
    return value


def _amount(data: dict[str, Any]) -> int:
    value = _field(data, "amount_minor")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_MINOR:
        raise BankSimError(
            BankCode.INVALID_AMOUNT,
            "amount_minor must be a whole number of minor units, at least 1 (1234 = 12.34 USD)",
            "amount_minor",
        )
    return value


def parse_order_request(data: Any) -> OrderRequest:
    """Validate a `POST /orders` body; BankSimError names the first bad field."""
    if not isinstance(data, dict):
        raise BankSimError(BankCode.INVALID_JSON, "the body must be a JSON object")
    reference = _text(data, "reference", MAX_REFERENCE_CHARS)
    if not _REFERENCE.match(reference):
        raise BankSimError(
            BankCode.INVALID_FIELD,
            f"reference must be 1 to {MAX_REFERENCE_CHARS} printable ASCII characters, no spaces",
            "reference",
        )
    amount_minor = _amount(data)
    code = _field(data, "currency")
    try:
        found = currency(code)
    except MoneyError as exc:
        raise BankSimError(BankCode.UNKNOWN_CURRENCY, str(exc), "currency") from None
    return OrderRequest(
        reference=reference,
        amount_minor=amount_minor,
        currency=found.code,
        description=_text(data, "description", MAX_DESCRIPTION_CHARS, required=False),
        return_url=_url(data, "return_url"),
        callback_url=_url(data, "callback_url"),
    )


def parse_failure_code(value: Any, *, approve: bool) -> FailureCode | None:
    """The failure code of a decision: none for an approval, declined_by_customer by default."""
    if approve:
        if value is not None:
            raise BankSimError(
                BankCode.INVALID_FAILURE_CODE, "an approval has no failure_code", "failure_code"
            )
        return None
    if value is None:
        return FailureCode.DECLINED_BY_CUSTOMER
    try:
        return FailureCode(value)
    except ValueError:
        allowed = ", ".join(FailureCode)
        raise BankSimError(
            BankCode.INVALID_FAILURE_CODE, f"failure_code must be one of: {allowed}", "failure_code"
        ) from None


class OrderBook:
    """Orders by id and by reference, in memory. One event loop owns it, so no lock is needed."""

    def __init__(self, max_orders: int = MAX_ORDERS) -> None:
        assert max_orders > 0
        self.max_orders = max_orders
        self._by_id: dict[str, Order] = {}
        self._by_reference: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def create(self, request: OrderRequest) -> tuple[Order, bool]:
        """(order, created): a replay of the same request returns the existing order."""
        existing_id = self._by_reference.get(request.reference)
        if existing_id is not None:
            existing = self._by_id[existing_id]
            if existing.request != request:
                raise BankSimError(
                    BankCode.REFERENCE_CONFLICT,
                    f"reference {request.reference!r} already names order {existing.id} "
                    "with other fields; use a new reference",
                    "reference",
                )
            return existing, False
        if len(self._by_id) >= self.max_orders:
            raise BankSimError(
                BankCode.CAPACITY_EXCEEDED,
                f"the sandbox bank holds at most {self.max_orders} orders; restart it",
            )
        order = Order(
            id=f"bo_{secrets.token_hex(12)}",
            request=request,
            status=OrderStatus.PENDING,
            created_at=now_rfc3339(),
        )
        self._by_id[order.id] = order
        self._by_reference[request.reference] = order.id
        return order, True

    def get(self, order_id: str) -> Order:
        order = self._by_id.get(order_id)
        if order is None:
            raise BankSimError(BankCode.ORDER_NOT_FOUND, f"no order {order_id!r} at this bank")
        return order

    def decide(self, order_id: str, *, approve: bool, failure_code: FailureCode | None) -> Order:
        """Record the customer's one decision; a second one is refused."""
        order = self.get(order_id)
        if order.status is not OrderStatus.PENDING:
            raise BankSimError(
                BankCode.ALREADY_DECIDED, f"order {order.id} was already decided: {order.status}"
            )
        decided = replace(
            order,
            status=OrderStatus.SUCCEEDED if approve else OrderStatus.FAILED,
            failure_code=None if approve else failure_code or FailureCode.DECLINED_BY_CUSTOMER,
            decided_at=now_rfc3339(),
            callback_state="scheduled",
        )
        self._by_id[order.id] = decided
        return decided

    def callback_target(self, order_id: str) -> tuple[str, dict[str, Any]]:
        """Where the order's callback goes and what it says."""
        order = self.get(order_id)
        return order.request.callback_url, order_callback(order)

    def record_attempt(self, order_id: str, attempt: CallbackAttempt) -> None:
        order = self._by_id[order_id]
        attempts = (*order.attempts, attempt)[-MAX_ATTEMPTS_KEPT:]
        self._by_id[order_id] = replace(order, attempts=attempts)

    def set_callback_state(self, order_id: str, state: str) -> None:
        self._by_id[order_id] = replace(self._by_id[order_id], callback_state=state)


def order_callback(order: Order) -> dict[str, Any]:
    """The order's callback payload (`type` tells it from a refund's)."""
    r = order.request
    return {
        "type": "order",
        "order": order.id,
        "reference": r.reference,
        "status": str(order.status),
        "failure_code": order.failure_code and str(order.failure_code),
        "amount_minor": r.amount_minor,
        "currency": r.currency,
        "decided_at": order.decided_at,
    }


def order_json(order: Order, base_url: str) -> dict[str, Any]:
    """The order as the bank's API shows it (GET /orders/{id}, POST /orders)."""
    r = order.request
    return {
        "id": order.id,
        "redirect_url": f"{base_url}/pay/{order.id}",
        "status": str(order.status),
        "reference": r.reference,
        "amount_minor": r.amount_minor,
        "currency": r.currency,
        "description": r.description,
        "return_url": r.return_url,
        "callback_url": r.callback_url,
        "created_at": order.created_at,
        "failure_code": order.failure_code and str(order.failure_code),
        "decided_at": order.decided_at,
        "callback": {
            "state": order.callback_state,
            "attempts": [
                {
                    "number": a.number,
                    "at": a.at,
                    "status_code": a.status_code,
                    "error": a.error,
                    "duplicate": a.duplicate,
                }
                for a in order.attempts
            ],
        },
        "simulation": True,
    }
