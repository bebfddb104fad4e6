"""Back-office sign-in: the admin key, typed once into a form, becomes an HttpOnly cookie.

The cookie holds an HMAC of a fixed label under the admin key, never the key itself, so it
changes when the key changes (signing everyone out) and reveals nothing if copied into a
log. `SameSite=Strict` keeps other sites from riding on it. Scripts may skip the form and
send the key as `Authorization: Bearer <key>` (or `curl -u KEY:`), as on the API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from starlette.datastructures import Secret
from starlette.requests import Request

COOKIE = "rongpay_session"
LABEL = b"rongpay back office session v1"


def presented_key(authorization: str | None) -> str | None:
    """The key in `Bearer KEY`, or in Basic auth as the user name (curl -u KEY:)."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    return ""


def key_matches(given: str, expected: Secret) -> bool:
    """Constant-time comparison, so response timing leaks nothing about the key."""
    return hmac.compare_digest(given.encode(), str(expected).encode())


def session_token(admin_key: Secret) -> str:
    return hmac.new(str(admin_key).encode(), LABEL, hashlib.sha256).hexdigest()


def signed_in(request: Request, admin_key: Secret) -> bool:
    given = presented_key(request.headers.get("authorization"))
    if given is not None:
        return key_matches(given, admin_key)
    cookie = request.cookies.get(COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_token(admin_key).encode())
