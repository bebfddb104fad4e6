"""Event types a merchant can subscribe to, and the records of this capability.

The list of types is the contract an endpoint's `enabled_events` is checked against
(docs/reference/webhooks.md). `*` subscribes to every type, including ones added later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

API_VERSION = "2026-11-25"  # the event payload layout; bumped only with a documented change
WILDCARD = "*"


class EventType(StrEnum):
    PAYMENT_INTENT_CREATED = "payment_intent.created"
    PAYMENT_INTENT_SUCCEEDED = "payment_intent.succeeded"
    PAYMENT_INTENT_PAYMENT_FAILED = "payment_intent.payment_failed"
    PAYMENT_INTENT_CANCELED = "payment_intent.canceled"
    PAYMENT_INTENT_REQUIRES_ACTION = "payment_intent.requires_action"
    PAYMENT_INTENT_PROCESSING = "payment_intent.processing"
    PAYMENT_INTENT_AMOUNT_CAPTURABLE_UPDATED = "payment_intent.amount_capturable_updated"
    CHARGE_SUCCEEDED = "charge.succeeded"
    CHARGE_FAILED = "charge.failed"
    CHARGE_CAPTURED = "charge.captured"
    CHARGE_REFUNDED = "charge.refunded"
    CHARGE_REFUND_UPDATED = "charge.refund.updated"  # an asynchronous refund settled
    CHARGE_DISPUTE_CREATED = "charge.dispute.created"
    CHARGE_DISPUTE_UPDATED = "charge.dispute.updated"
    CHARGE_DISPUTE_CLOSED = "charge.dispute.closed"
    CHARGE_DISPUTE_FUNDS_WITHDRAWN = "charge.dispute.funds_withdrawn"
    CHARGE_DISPUTE_FUNDS_REINSTATED = "charge.dispute.funds_reinstated"
    REFUND_CREATED = "refund.created"
    REFUND_UPDATED = "refund.updated"
    REFUND_FAILED = "refund.failed"


EVENT_TYPES = frozenset(t.value for t in EventType)


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A merchant's receiving URL. The secrets are kept out of repr (they sign payloads)."""

    id: str
    merchant_id: str
    livemode: bool
    url: str
    enabled_events: list[str]
    status: EndpointStatus
    description: str | None
    created: int  # unix seconds
    previous_secret_expires_at: int | None  # unix seconds; None when no rotation is running
    secret: str = field(repr=False)
    previous_secret: str | None = field(repr=False)

    def signing_secrets(self, now_s: float) -> list[str]:
        """Newest first: the current secret, and the previous one until it expires."""
        out = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret is not None and expires is not None and now_s < expires:
            out.append(self.previous_secret)
        return out


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    merchant_id: str
    livemode: bool
    type: str
    created: int  # unix seconds
    api_version: str
    data: dict[str, Any]  # {"object": {...}}

    def payload(self) -> dict[str, Any]:
        """The JSON object POSTed to endpoints and returned by GET /v1/events/{id}."""
        return {
            "id": self.id,
            "object": "event",
            "api_version": self.api_version,
            "created": self.created,
            "data": self.data,
            "livemode": self.livemode,
            "type": self.type,
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST to an endpoint, as logged (append-only)."""

    created_ms: int
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    event_id: str
    endpoint_id: str
    livemode: bool
    status: DeliveryStatus
    attempts: int
    next_attempt_at_ms: int | None
    last_status_code: int | None
    last_error: str | None
    manual: bool
    created_ms: int
    log: tuple[Attempt, ...] = ()


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose objects: a merchant in one mode. Test and live mode are separate worlds."""

    merchant_id: str
    livemode: bool
