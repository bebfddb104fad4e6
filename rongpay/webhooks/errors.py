"""Errors of the webhooks capability: each carries a stable `code` a caller can branch on.

Messages never hold an endpoint's secret; they may echo the URL the merchant gave.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Codes in order of precedence when one request has several faults."""

    PARAMETER_UNKNOWN = "parameter_unknown"
    PARAMETER_MISSING = "parameter_missing"
    PARAMETER_INVALID = "parameter_invalid"
    URL_INVALID = "url_invalid"
    EVENT_TYPE_INVALID = "event_type_invalid"
    ENDPOINT_LIMIT_REACHED = "endpoint_limit_reached"
    RESOURCE_MISSING = "resource_missing"


class WebhookError(Exception):
    """Bad input for a webhooks use case; `param` names the offending field."""

    def __init__(self, code: ErrorCode, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


class NotFound(WebhookError):
    """No such endpoint or event for this merchant in this mode."""

    def __init__(self, kind: str, raw_id: str, param: str | None = "id") -> None:
        shown = raw_id if len(raw_id) <= 80 else raw_id[:77] + "..."
        super().__init__(ErrorCode.RESOURCE_MISSING, f"No such {kind}: {shown!r}", param)
        self.kind = kind
        self.raw_id = raw_id
