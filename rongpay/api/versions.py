"""API versions: a request may pin one with `Rongpay-Version: YYYY-MM-DD`; every /v1 answer
says which version it follows. Unknown versions are refused (400 `api_version_invalid`)
rather than silently served as another. Today there is one version; when a change would
break clients, it gets a new date and the old shape stays available under the old one."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rongpay.api.errors import ApiError, error_response

CURRENT = "2026-11-25"
SUPPORTED = frozenset({CURRENT})
HEADER = b"rongpay-version"


class VersionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        asked = next((v for k, v in scope["headers"] if k == HEADER), None)
        version = CURRENT
        if asked is not None:
            version = asked.decode("latin-1").strip()
            if version not in SUPPORTED:
                supported = ", ".join(sorted(SUPPORTED))
                refused = ApiError(400, "api_version_invalid",
                                   f"Unknown Rongpay-Version {version[:40]!r}; supported: "
                                   f"{supported}.", param="Rongpay-Version")  # fmt: skip
                await error_response(refused)(scope, receive, send)
                return
        stamp = (b"rongpay-version", version.encode())

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), stamp]
            await send(message)

        await self.app(scope, receive, send_with_version)
