"""The bank-transfer (online banking) channel: the gateway's side of the conversation.

The customer pays at their bank, not at the gateway: the gateway creates an order at the bank
(idempotent on our reference, so a retry after a timeout cannot create a second order), sends
the customer to the order's `redirect_url`, and learns the outcome later from a signed callback.
Until then the payment is `processing`. Callbacks are delivered at least once: the same one may
arrive twice, so whoever applies them must treat (order, status) as already applied the second
time. When no callback comes, `get_order` polls the bank (reconciliation).

Talks to any provider that speaks this API; in test mode that is `rongpay sandbox bank`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
import orjson

from rongpay.money import MAX_MINOR, MoneyError, currency
from rongpay.security.signing import DEFAULT_TOLERANCE_S, SignatureError, verify

SIGNATURE_HEADER = "Bank-Signature"
CALLBACK_STATUSES = ("succeeded", "failed")
FAILURE_CODES = ("insufficient_funds", "account_closed", "declined_by_customer")
REFUND_FAILURE_CODES = ("account_closed",)
MAX_CALLBACK_BYTES = 16 * 1024
_ORDER_ID = re.compile(r"^bo_[0-9A-Za-z]{1,64}$")
_REFUND_ID = re.compile(r"^br_[0-9A-Za-z]{1,64}$")


class BankErrorCode(StrEnum):
    """Why a bank call failed, in the order they are checked."""

    BANK_UNAVAILABLE = "bank_unavailable"  # no answer, a timeout, a 5xx or an unreadable answer
    BANK_REJECTED = "bank_rejected"  # a 4xx: `bank_code` says which (reference_conflict, ...)
    INVALID_SIGNATURE = "invalid_signature"  # a callback not signed with our secret, or stale
    INVALID_CALLBACK = "invalid_callback"  # signed, but not the callback shape


class BankError(Exception):
    """A failed bank call. `code` is a BankErrorCode; `bank_code` the bank's own code, if any."""

    def __init__(self, code: BankErrorCode, message: str, bank_code: str | None = None,
                 *, maybe_sent: bool = True) -> None:  # fmt: skip
        super().__init__(message)
        self.code = code
        self.message = message
        self.bank_code = bank_code
        # False only when the request certainly never reached the bank (connection refused)
        self.maybe_sent = maybe_sent


@dataclass(frozen=True, slots=True)
class BankOrder:
    id: str
    redirect_url: str
    status: str  # pending, succeeded, failed
    failure_code: str | None = None


@dataclass(frozen=True, slots=True)
class BankRefund:
    id: str
    order: str
    reference: str
    status: str  # pending, succeeded, failed
    amount_minor: int
    currency: str
    failure_code: str | None = None


@dataclass(frozen=True, slots=True)
class BankRefundCallback:
    refund: str
    order: str
    reference: str
    status: str  # succeeded or failed
    failure_code: str | None
    amount_minor: int
    currency: str
    decided_at: str | None = None


@dataclass(frozen=True, slots=True)
class BankCallback:
    order: str
    reference: str
    status: str  # succeeded or failed
    failure_code: str | None
    amount_minor: int
    currency: str
    decided_at: str | None = None


class BankChannel:
    """An async client of one bank, authenticated with the shared secret."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        timeout_s: float = 5.0,
        tolerance_s: int = DEFAULT_TOLERANCE_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        assert secret, "BankChannel needs the shared secret"
        self._secret = secret
        self._tolerance_s = tolerance_s
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {secret}", "User-Agent": "rongpay-gateway"},
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"BankChannel(base_url={str(self._client.base_url)!r}, secret='***')"

    async def create_order(
        self,
        *,
        reference: str,
        amount_minor: int,
        currency: str,
        description: str,
        return_url: str,
        callback_url: str,
    ) -> BankOrder:
        """Create (or find again) the order for REFERENCE. A timeout or a lost connection is
        retried once with the same reference: the bank returns the order it may already have."""
        payload = {
            "reference": reference,
            "amount_minor": amount_minor,
            "currency": currency,
            "description": description,
            "return_url": return_url,
            "callback_url": callback_url,
        }
        try:
            response = await self._send("POST", "/orders", payload)
        except BankError:  # only no-answer failures come from _send: safe to replay
            response = await self._send("POST", "/orders", payload)
        return _order(_answer(response))

    async def get_order(self, order_id: str) -> BankOrder:
        """The order as the bank sees it now (reconciliation when a callback is late)."""
        _check_order_id(order_id)
        return _order(_answer(await self._send("GET", f"/orders/{order_id}")))

    async def decide(
        self, order_id: str, *, approve: bool, failure_code: str | None = None
    ) -> None:
        """Approve or decline as the customer would (sandbox only: tests and benchmarks)."""
        _check_order_id(order_id)
        body = {"decision": "approve" if approve else "decline", "failure_code": failure_code}
        _answer(await self._send("POST", f"/orders/{order_id}/decide", body))

    async def create_refund(
        self, order_id: str, *, reference: str, amount_minor: int, currency: str
    ) -> BankRefund:
        """Instruct the bank to refund AMOUNT_MINOR of the paid order ORDER_ID (or find the
        refund REFERENCE names again). A failure before any answer is retried once with the
        same reference: the bank never pays one reference twice."""
        _check_order_id(order_id)
        payload = {"reference": reference, "amount_minor": amount_minor, "currency": currency}
        path = f"/orders/{order_id}/refunds"
        try:
            response = await self._send("POST", path, payload)
        except BankError as first:
            try:
                response = await self._send("POST", path, payload)
            except BankError as second:
                second.maybe_sent = first.maybe_sent or second.maybe_sent
                raise second from None
        return _refund(_answer(response))

    async def get_refund(self, refund_id: str) -> BankRefund:
        """The refund as the bank sees it now (reconciliation when a callback is late)."""
        if not isinstance(refund_id, str) or not _REFUND_ID.match(refund_id):
            raise BankError(BankErrorCode.BANK_REJECTED, f"{refund_id!r} is not a bank refund id")
        return _refund(_answer(await self._send("GET", f"/refunds/{refund_id}")))

    async def close_account(self, order_id: str) -> None:
        """Close the payer's account of ORDER_ID, so refunds to it fail (sandbox only)."""
        _check_order_id(order_id)
        _answer(await self._send("POST", f"/orders/{order_id}/close_account", {}))

    def parse_callback(
        self, body: bytes, signature_header: str | None
    ) -> BankCallback | BankRefundCallback:
        """Verify a callback's signature (against our secret, within the tolerance), then its
        shape. Applying it is the caller's job, idempotently: the same one may come twice."""
        return parse_callback(body, signature_header, [self._secret], tolerance_s=self._tolerance_s)

    async def close(self) -> None:
        await self._client.aclose()

    async def _send(self, method: str, path: str, payload: Any = None) -> httpx.Response:
        content = None if payload is None else orjson.dumps(payload)
        headers = {} if payload is None else {"Content-Type": "application/json"}
        try:
            return await self._client.request(method, path, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout):  # nothing was sent
            message = "the bank cannot be reached (no connection)"
            raise BankError(BankErrorCode.BANK_UNAVAILABLE, message, maybe_sent=False) from None
        except httpx.TimeoutException:
            raise BankError(
                BankErrorCode.BANK_UNAVAILABLE, "the bank did not answer in time"
            ) from None
        except httpx.HTTPError as exc:
            message = f"the bank cannot be reached ({type(exc).__name__})"
            raise BankError(BankErrorCode.BANK_UNAVAILABLE, message) from None


def parse_callback(
    body: bytes,
    signature_header: str | None,
    secrets: Sequence[str],
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> BankCallback | BankRefundCallback:
    """BankChannel.parse_callback without a client: SECRETS may hold the old and the new secret
    while it is being rotated."""
    if len(body) > MAX_CALLBACK_BYTES:
        raise BankError(BankErrorCode.INVALID_CALLBACK, "the callback body is too large")
    try:
        verify(body, signature_header, secrets, tolerance_s=tolerance_s)
    except SignatureError as exc:
        message = f"bank callback refused: {exc}"
        raise BankError(BankErrorCode.INVALID_SIGNATURE, message) from None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BankError(BankErrorCode.INVALID_CALLBACK, "the callback is not JSON") from None
    if isinstance(data, dict) and data.get("type") == "refund":
        return _refund_callback(data)
    return _callback(data)


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a 2xx answer; BankError for anything else."""
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        data = None
    if response.is_success and isinstance(data, dict):
        return data
    error = data.get("error") if isinstance(data, dict) else None
    if 400 <= response.status_code < 500 and isinstance(error, dict):
        bank_code = str(error.get("code") or "unknown")
        message = f"the bank refused the request: {bank_code}: {error.get('message', '')}"
        raise BankError(BankErrorCode.BANK_REJECTED, message, bank_code)
    if 400 <= response.status_code < 500:
        message = f"the bank refused the request with status {response.status_code}"
        raise BankError(BankErrorCode.BANK_REJECTED, message, "unknown")
    message = f"the bank answered {response.status_code} without a usable body"
    raise BankError(BankErrorCode.BANK_UNAVAILABLE, message)


def _order(data: dict[str, Any]) -> BankOrder:
    order_id, url, status = data.get("id"), data.get("redirect_url"), data.get("status")
    failure = data.get("failure_code")
    if not (isinstance(order_id, str) and isinstance(url, str) and isinstance(status, str)):
        raise BankError(BankErrorCode.BANK_UNAVAILABLE, "the bank's answer lacks id/redirect_url")
    return BankOrder(order_id, url, status, failure if isinstance(failure, str) else None)


def _refund(data: dict[str, Any]) -> BankRefund:
    refund_id, order, reference = data.get("id"), data.get("order"), data.get("reference")
    status, amount, cur = data.get("status"), data.get("amount_minor"), data.get("currency")
    failure = data.get("failure_code")
    if not (
        isinstance(refund_id, str) and isinstance(order, str) and isinstance(reference, str)
        and status in ("pending", "succeeded", "failed") and isinstance(amount, int)
        and isinstance(cur, str)
    ):  # fmt: skip
        raise BankError(BankErrorCode.BANK_UNAVAILABLE, "the bank's refund answer is incomplete")
    return BankRefund(refund_id, order, reference, str(status), amount, cur,
                      failure if isinstance(failure, str) else None)  # fmt: skip


def _check_order_id(order_id: str) -> None:
    if not isinstance(order_id, str) or not _ORDER_ID.match(order_id):
        raise BankError(BankErrorCode.BANK_REJECTED, f"{order_id!r} is not a bank order id")


def _invalid(message: str) -> BankError:
    return BankError(BankErrorCode.INVALID_CALLBACK, f"bank callback refused: {message}")


def _callback(data: Any) -> BankCallback:
    """The callback's fields, each checked; the first bad one is named."""
    if not isinstance(data, dict):
        raise _invalid("the body must be a JSON object")
    order, reference = data.get("order"), data.get("reference")
    if not isinstance(order, str) or not _ORDER_ID.match(order):
        raise _invalid("order must be a bank order id (bo_...)")
    if not isinstance(reference, str) or not reference:
        raise _invalid("reference must be a non-empty string")
    status, failure = data.get("status"), data.get("failure_code")
    if status not in CALLBACK_STATUSES:
        raise _invalid("status must be succeeded or failed")
    if status == "succeeded" and failure is not None:
        raise _invalid("a succeeded callback has no failure_code")
    if status == "failed" and failure not in FAILURE_CODES:
        raise _invalid(f"failure_code must be one of {', '.join(FAILURE_CODES)}")
    amount = data.get("amount_minor")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_MINOR:
        raise _invalid("amount_minor must be a positive whole number")
    try:
        code = currency(str(data.get("currency"))).code
    except MoneyError:
        raise _invalid("currency must be an ISO 4217 code") from None
    decided_at = data.get("decided_at")
    return BankCallback(
        order=order,
        reference=reference,
        status=status,
        failure_code=failure,
        amount_minor=amount,
        currency=code,
        decided_at=decided_at if isinstance(decided_at, str) else None,
    )


def _refund_callback(data: dict[str, Any]) -> BankRefundCallback:
    """A refund's callback fields, each checked; the first bad one is named."""
    refund = data.get("refund")
    if not isinstance(refund, str) or not _REFUND_ID.match(refund):
        raise _invalid("refund must be a bank refund id (br_...)")
    status, failure = data.get("status"), data.get("failure_code")
    if status == "failed" and failure not in REFUND_FAILURE_CODES:
        raise _invalid(f"a refund's failure_code must be one of {', '.join(REFUND_FAILURE_CODES)}")
    # the fields a refund shares with an order are checked as an order's are
    shared = _callback({**data, "failure_code": None if status == "failed" else failure,
                        "status": "succeeded" if status == "failed" else status})  # fmt: skip
    return BankRefundCallback(
        refund=refund,
        order=shared.order,
        reference=shared.reference,
        status=str(status),
        failure_code=failure,
        amount_minor=shared.amount_minor,
        currency=shared.currency,
        decided_at=shared.decided_at,
    )
