"""Checking what a merchant sends for an endpoint: URL, event types, description, rotation.

Each fault is a WebhookError with a stable code and the parameter it concerns; the first
fault in the order of ErrorCode wins (unknown fields, then missing, then each field).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rongpay.store.paging import CursorMissing, Page
from rongpay.webhooks.errors import ErrorCode, WebhookError
from rongpay.webhooks.types import EVENT_TYPES, WILDCARD

MAX_URL = 2048
MAX_DESCRIPTION = 5000
MAX_ENABLED_EVENTS = 64
MAX_ROTATION_S = 7 * 86_400  # longest overlap of the previous and the new secret
DEFAULT_ROTATION_S = 86_400
_LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain"})

CREATE_FIELDS = frozenset({"url", "enabled_events", "description"})
UPDATE_FIELDS = frozenset({"url", "enabled_events", "description", "disabled"})


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    url: str
    enabled_events: list[str]
    description: str | None


@dataclass(frozen=True, slots=True)
class EndpointPatch:
    """Fields to change; None leaves one as it is (`clear_description` empties it)."""

    url: str | None = None
    enabled_events: list[str] | None = None
    description: str | None = None
    clear_description: bool = False
    disabled: bool | None = None


def _object(body: Any, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise WebhookError(ErrorCode.PARAMETER_INVALID, "The body must be a JSON object.")
    unknown = sorted(k for k in body if k not in allowed)
    if unknown:
        shown = unknown[0] if len(unknown[0]) <= 64 else unknown[0][:61] + "..."
        raise WebhookError(ErrorCode.PARAMETER_UNKNOWN,
                           f"Unknown parameter {shown!r}; allowed: {', '.join(sorted(allowed))}.",
                           param=shown)  # fmt: skip
    return body


def parse_create(body: Any, *, livemode: bool) -> EndpointSpec:
    fields = _object(body, CREATE_FIELDS)
    for name in ("url", "enabled_events"):
        if fields.get(name) is None:
            raise WebhookError(ErrorCode.PARAMETER_MISSING, f"`{name}` is required.", param=name)
    return EndpointSpec(
        url=parse_url(fields["url"], livemode=livemode),
        enabled_events=parse_enabled_events(fields["enabled_events"]),
        description=parse_description(fields.get("description")),
    )


def parse_update(body: Any, *, livemode: bool) -> EndpointPatch:
    fields = _object(body, UPDATE_FIELDS)
    disabled = fields.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise WebhookError(ErrorCode.PARAMETER_INVALID, "`disabled` must be true or false.",
                           param="disabled")  # fmt: skip
    url, events = fields.get("url"), fields.get("enabled_events")
    return EndpointPatch(
        url=None if url is None else parse_url(url, livemode=livemode),
        enabled_events=None if events is None else parse_enabled_events(events),
        description=parse_description(fields.get("description")),
        clear_description="description" in fields and fields["description"] in (None, ""),
        disabled=disabled,
    )


def parse_url(raw: Any, *, livemode: bool) -> str:
    """An absolute http(s) URL of at most 2048 characters, without credentials in it.

    Live mode wants https to a public host: a live secret and live payment data must not
    travel in clear text or to the platform's own network. Test mode accepts http and local
    hosts, so a developer can point it at a laptop.
    """
    if not isinstance(raw, str) or not raw:
        raise _bad_url("`url` must be a non-empty string.")
    if len(raw) > MAX_URL:
        raise _bad_url(f"`url` is longer than {MAX_URL} characters.")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in raw):
        raise _bad_url("`url` must not contain spaces or control characters.")
    try:
        parts = urlsplit(raw)
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise _bad_url("`url` is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not host:
        raise _bad_url("`url` must be an absolute http:// or https:// URL with a host.")
    if parts.username is not None or parts.password is not None:
        raise _bad_url("`url` must not carry a user name or password.")
    if parts.fragment:
        raise _bad_url("`url` must not have a #fragment.")
    if livemode:
        if parts.scheme != "https":
            raise _bad_url("A live-mode endpoint must use https://.")
        if _is_local(host):
            raise _bad_url("A live-mode endpoint must be on a public host.")
    return raw


def _is_local(host: str) -> bool:
    if host.lower() in _LOCAL_HOSTS or host.lower().endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not ip.is_global


def _bad_url(message: str) -> WebhookError:
    return WebhookError(ErrorCode.URL_INVALID, message, param="url")


def parse_enabled_events(raw: Any) -> list[str]:
    """A non-empty list of known event types, or ["*"]; duplicates dropped, order kept."""
    if not isinstance(raw, list) or not raw:
        raise WebhookError(ErrorCode.PARAMETER_INVALID,
                           '`enabled_events` must be a non-empty list of event types, or ["*"].',
                           param="enabled_events")  # fmt: skip
    if len(raw) > MAX_ENABLED_EVENTS:
        raise WebhookError(ErrorCode.PARAMETER_INVALID,
                           f"`enabled_events` holds at most {MAX_ENABLED_EVENTS} types.",
                           param="enabled_events")  # fmt: skip
    out: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, str) or (item != WILDCARD and item not in EVENT_TYPES):
            shown = repr(item)[:80]
            raise WebhookError(ErrorCode.EVENT_TYPE_INVALID,
                               f"enabled_events[{i}]: {shown} is not an event type "
                               "(see docs/reference/webhooks.md) nor '*'.",
                               param=f"enabled_events[{i}]")  # fmt: skip
        if item not in out:
            out.append(item)
    return [WILDCARD] if WILDCARD in out else out


def parse_description(raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    if (
        not isinstance(raw, str)
        or len(raw) > MAX_DESCRIPTION
        or any(ord(c) < 32 and c not in "\t\n\r" for c in raw)
    ):
        raise WebhookError(ErrorCode.PARAMETER_INVALID,
                           f"`description` must be a string of at most {MAX_DESCRIPTION} "
                           "characters, without control characters.",
                           param="description")  # fmt: skip
    return raw


def plausible_id(raw: str, prefix: str) -> bool:
    """Could RAW be an id we issued? Others (too long, NUL bytes, ...) are never looked up."""
    return (
        raw.startswith(prefix) and len(raw) <= 64 and raw[len(prefix):].isascii()
        and raw[len(prefix):].isalnum()
    )  # fmt: skip


def parse_rotation(body: Any) -> int:
    """Seconds the previous secret keeps signing after a roll: 0 (at once) to 7 days."""
    if body is None:
        return DEFAULT_ROTATION_S
    fields = _object(body, frozenset({"expire_previous_in_s"}))
    raw = fields.get("expire_previous_in_s", DEFAULT_ROTATION_S)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_ROTATION_S:
        raise WebhookError(ErrorCode.PARAMETER_INVALID,
                           f"`expire_previous_in_s` must be an integer from 0 to {MAX_ROTATION_S}.",
                           param="expire_previous_in_s")  # fmt: skip
    return raw


def check_cursors(page: Page, prefix: str) -> Page:
    """A cursor that cannot be one of our ids names no object (and never reaches SQL:
    PostgreSQL refuses NUL bytes in text with an error)."""
    for param, value in (("starting_after", page.starting_after),
                         ("ending_before", page.ending_before)):  # fmt: skip
        if value is not None and not plausible_id(value, prefix):
            raise CursorMissing(param, value)
    return page
