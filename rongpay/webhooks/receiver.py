"""For merchants' receivers: check a webhook's Rongpay-Signature and parse its event.

    event = rongpay.webhooks.verify(request_body_bytes, headers.get("Rongpay-Signature"),
                                    "whsec_...")

Pass the raw body exactly as received (before any JSON parsing): the signature covers the
bytes. During a secret roll pass both secrets (a list); a message signed with either passes.
"""

from __future__ import annotations

from typing import Any

import orjson

from rongpay.security.signing import DEFAULT_TOLERANCE_S, SignatureError
from rongpay.security.signing import verify as verify_signature


class InvalidPayload(ValueError):
    """The signature holds but the body is not a JSON event object (a sender bug)."""


def verify(
    payload: bytes,
    header: str | None,
    secret: str | list[str],
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    *,
    now: int | None = None,
) -> dict[str, Any]:
    """The event in PAYLOAD, once HEADER proves it came from rongpay within TOLERANCE_S.

    Raises SignatureError (missing or malformed header, too old or too new, no match) or
    InvalidPayload. Both are ValueErrors; answer 400 to the sender on either.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets or not all(isinstance(s, str) and s for s in secrets):
        raise TypeError("secret must be a non-empty string or a list of them")
    verify_signature(payload, header, secrets, tolerance_s=tolerance_s, now=now)
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise InvalidPayload("the body is not JSON") from None
    if not isinstance(event, dict) or event.get("object") != "event" or "type" not in event:
        raise InvalidPayload("the body is not an event object")
    return event


__all__ = ["InvalidPayload", "SignatureError", "verify"]
