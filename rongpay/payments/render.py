"""Payment objects as JSON dicts (Stripe's shapes where they share fields): one rendering for
the API responses, stored idempotent replays, and webhook event payloads."""

from __future__ import annotations

from typing import Any

from rongpay.payments.intents import Intent


def public_method(pm: dict[str, Any] | None) -> dict[str, Any] | None:
    """The payment method without the gateway's own `_` fields (a payment code's hash)."""
    if pm is None:
        return None
    return {k: v for k, v in pm.items() if not k.startswith("_")}


def intent(i: Intent) -> dict[str, Any]:
    return {
        "id": i.id,
        "object": "payment_intent",
        "amount": i.amount,
        "amount_capturable": i.amount_capturable,
        "amount_received": i.amount_received,
        "amount_refunded": i.amount_refunded,
        "capture_method": str(i.capture_method),
        "cancellation_reason": i.cancellation_reason,
        "created": i.created,
        "currency": i.currency.lower(),
        "customer": i.customer_id,
        "description": i.description,
        "fee": i.fee,
        "fee_quote": i.fee_quote,
        "last_payment_error": i.last_payment_error,
        "latest_charge": i.latest_charge,
        "livemode": i.livemode,
        "merchant": i.merchant_id,
        "metadata": i.metadata or {},
        "next_action": i.next_action,
        "payment_method": public_method(i.payment_method),
        "return_url": i.return_url,
        "risk": i.risk,
        "status": str(i.status),
    }
