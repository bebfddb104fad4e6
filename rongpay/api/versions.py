"""API versions: a request may pin one with `Rongpay-Version: YYYY-MM-DD`; every /v1 answer
says which version it follows. Unknown versions are refused (400 `api_version_invalid`)
rather than silently served as another. Today there is one version; when a change would
break clients, it gets a new date and the old shape stays available under the old one."""

from __future__ import annotations

from rongpay.api.errors import ApiError

CURRENT = "2026-11-25"
SUPPORTED = frozenset({CURRENT})
HEADER = b"rongpay-version"
CURRENT_BYTES = CURRENT.encode()


def negotiate(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The version a /v1 request is answered in: the one it asks for, else the current one.
    An unknown version is refused (ApiError 400 `api_version_invalid`)."""
    asked = next((v for k, v in headers if k == HEADER), None)
    if asked is None:
        return CURRENT_BYTES
    version = asked.decode("latin-1").strip()
    if version not in SUPPORTED:
        supported = ", ".join(sorted(SUPPORTED))
        raise ApiError(400, "api_version_invalid",
                       f"Unknown Rongpay-Version {version[:40]!r}; supported: {supported}.",
                       param="Rongpay-Version")  # fmt: skip
    return version.encode()
