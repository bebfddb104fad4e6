"""The one error shape of the HTTP API, and the handlers that guarantee it.

Every failure leaves as `{"error": {"type", "code", "message", "param"}}` with a stable
`code`. Bad input is a 4xx; a database that cannot be reached is a 503; only a genuine bug
is a 500 (`internal_error`), logged here with its traceback and never shown to the client.
HTTP status codes live in this package only (CONVENTIONS.md).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from rongpay.api.render import json_response
from rongpay.ledger.errors import BatchTooLarge

log = logging.getLogger("rongpay.api")

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
API_ERROR = "api_error"

MAX_BODY_BYTES = 32 * 1024 * 1024  # a full 8,190-transfer batch is ~2 MB


class ApiError(Exception):
    """A request that cannot be served; rendered in the error shape with STATUS."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        type_: str = INVALID_REQUEST,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type = type_
        self.headers = headers


def error_body(type_: str, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"type": type_, "code": code, "message": message, "param": param}}


def error_response(exc: ApiError) -> Response:
    body = error_body(exc.type, exc.code, exc.message, exc.param)
    return json_response(body, status=exc.status, headers=exc.headers)


def parameter_invalid(param: str | None, message: str) -> ApiError:
    return ApiError(400, "parameter_invalid", message, param=param)


def not_found(kind: str, raw_id: str) -> ApiError:
    shown = raw_id if len(raw_id) <= 80 else raw_id[:77] + "..."
    return ApiError(404, "resource_missing", f"No such {kind}: {shown!r}", param="id")


def service_unavailable() -> ApiError:
    return ApiError(
        503,
        "service_unavailable",
        "The database is unavailable; retry later (safe: client ids make retries idempotent).",
        type_=API_ERROR,
        headers={"Retry-After": "1"},
    )


def param_from_loc(loc: Sequence[Any]) -> str | None:
    """("body", "transfers", 3, "id") -> "transfers[3].id"; ("query", "limit") -> "limit"."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or None


def _validation_error(exc: RequestValidationError) -> ApiError:
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return ApiError(400, "invalid_json", "The request body is not valid JSON.")
    param = param_from_loc(first.get("loc", ()))
    msg = str(first.get("msg", "invalid value"))
    return parameter_invalid(param, f"{param or 'request'}: {msg}")


_HTTP_CODES = {
    404: ("route_not_found", "No such route: {method} {path}"),
    405: ("method_not_allowed", "Method {method} is not allowed on {path}"),
}


def _http_error(request: Request, exc: HTTPException) -> ApiError:
    code, template = _HTTP_CODES.get(exc.status_code, ("http_error", "{detail}"))
    message = template.format(method=request.method, path=request.url.path, detail=exc.detail)
    headers = dict(exc.headers) if exc.headers else None
    type_ = INVALID_REQUEST if exc.status_code < 500 else API_ERROR
    status = exc.status_code if 400 <= exc.status_code < 600 else 400
    return ApiError(status, code, message, type_=type_, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers: every error leaves in the one shape."""

    async def on_api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(_validation_error(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_response(_http_error(request, exc))

    async def on_batch_too_large(_: Request, exc: Exception) -> Response:
        return error_response(ApiError(400, "batch_too_large", str(exc)))

    async def on_database(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, DBAPIError)
        if isinstance(exc.orig, psycopg.DataError):
            # e.g. a NUL character in a path or query value: PostgreSQL text cannot hold it
            return error_response(ApiError(
                400, "parameter_invalid", "A value in the request cannot be stored or searched "
                "for (it contains a NUL character or is out of range)."))  # fmt: skip
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            log.warning("database unavailable: %s", type(exc.orig).__name__)
            return error_response(service_unavailable())
        log.error("database error", exc_info=exc)
        return error_response(internal_error())

    async def on_driver_unavailable(_: Request, exc: Exception) -> Response:
        # The ledger's hot path talks to the DB-API cursor directly: its errors come unwrapped.
        log.warning("database unavailable: %s", type(exc).__name__)
        return error_response(service_unavailable())

    app.add_exception_handler(sqlite3.OperationalError, on_driver_unavailable)
    app.add_exception_handler(psycopg.OperationalError, on_driver_unavailable)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(BatchTooLarge, on_batch_too_large)
    app.add_exception_handler(DBAPIError, on_database)


def internal_error() -> ApiError:
    return ApiError(
        500, "internal_error", "Something went wrong on our side; it has been logged.",
        type_=API_ERROR,
    )  # fmt: skip
