"""The one middleware in front of every request: what must hold before any route runs and
after any route fails.

- a declared body over MAX_BODY_BYTES: 413 `payload_too_large`, unread;
- /v1 requests: the API version (`Rongpay-Version`, api/versions.py) is checked and every
  answer says which version it follows;
- an unhandled bug: a logged 500 in the error shape. Starlette's own catch-all re-raises
  after answering (uvicorn then prints a traceback); this one answers and stops there.

One layer rather than one per concern: each ASGI layer wraps every request and every message
sent, which on the payment path was measurable (rongpay bench payments).
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rongpay.api import versions
from rongpay.api.errors import MAX_BODY_BYTES, ApiError, error_response, internal_error

log = logging.getLogger("rongpay.api")


class EdgeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        version: bytes | None = None
        started = False

        async def edge_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if version is not None:
                    message["headers"] = [*message.get("headers", ()),
                                          (versions.HEADER, version)]  # fmt: skip
            await send(message)

        try:  # the version first: every /v1 answer, refusals too, says which it follows
            if scope["path"].startswith("/v1/"):
                version = versions.negotiate(headers)
            if _declared_length(headers) > MAX_BODY_BYTES:
                raise ApiError(413, "payload_too_large",
                               f"The request body is over {MAX_BODY_BYTES} bytes.")  # fmt: skip
        except ApiError as refused:
            await error_response(refused)(scope, receive, edge_send)
            return
        try:
            await self.app(scope, receive, edge_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await error_response(internal_error())(scope, receive, edge_send)


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
