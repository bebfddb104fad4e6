"""Timestamped HMAC-SHA256 signatures, one scheme for every signed message rongpay sends or
receives (webhooks to merchants, the sandbox bank's callbacks).

Header: `t=<unix seconds>,v1=<hex>[,v1=<hex>...]` where each v1 is HMAC-SHA256(secret,
"<t>.<body>"). Several v1 values appear while a secret is being rotated: the receiver accepts
the message when any of them matches any secret it holds. The timestamp is signed too, and a
receiver refuses one older (or newer) than its tolerance, so a captured message cannot be
replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

DEFAULT_TOLERANCE_S = 300
MAX_SIGNATURES = 8  # v1 values considered in one header


class SignatureError(ValueError):
    """The header is missing, malformed, outside the tolerance, or matches no secret."""


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def sign(secrets: Iterable[str], body: bytes, timestamp: int | None = None) -> str:
    """The header value for BODY signed with every secret in SECRETS (newest first)."""
    t = int(time.time()) if timestamp is None else timestamp
    parts = [f"t={t}"] + [f"v1={signature(s, t, body)}" for s in secrets]
    assert len(parts) > 1, "sign() needs at least one secret"
    return ",".join(parts)


def parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    values: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and len(values) < MAX_SIGNATURES:
            values.append(value)
    if timestamp is None or not values:
        raise SignatureError("the signature header needs t=<timestamp> and at least one v1=")
    return timestamp, values


def verify(
    body: bytes,
    header: str | None,
    secrets: Iterable[str],
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: int | None = None,
) -> int:
    """Check HEADER for BODY against SECRETS; return the signed timestamp or raise
    SignatureError with the reason."""
    if not header:
        raise SignatureError("no signature header")
    timestamp, values = parse_header(header)
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(f"timestamp outside the tolerance of {tolerance_s} s")
    for secret in secrets:
        expected = signature(secret, timestamp, body)
        if any(hmac.compare_digest(expected, v) for v in values):
            return timestamp
    raise SignatureError("no signature matches")
