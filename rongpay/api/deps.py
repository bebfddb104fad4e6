"""What every request needs: the database engine, the admin check, the JSON body.

The engine is opened (and migrated) at start-up; if the database is down then, it is
opened again on the next request, and until it answers requests get a 503, never a 500.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Secret

from rongpay.api.errors import AUTHENTICATION, MAX_BODY_BYTES, ApiError, service_unavailable
from rongpay.payments import keys
from rongpay.store import engine as store_engine
from rongpay.web.auth import key_matches, presented_key


class Runtime:
    """Per-app settings: the database URL, the admin key (masked), the engine once open."""

    def __init__(self, url: str, admin_key: Secret) -> None:
        self.url = url
        self.admin_key = admin_key
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        if self._engine is not None:
            return self._engine
        with self._lock:
            if self._engine is None:
                try:
                    self._engine = store_engine.create(self.url)
                except DBAPIError as exc:
                    raise service_unavailable() from exc
            return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @property
    def dialect(self) -> str:
        return "postgresql" if self.url.startswith("postgresql") else "sqlite"


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def get_engine(request: Request) -> Engine:
    return runtime(request).engine()


EngineDep = Annotated[Engine, Depends(get_engine)]


# Dependencies that check `Authorization: Bearer ...` themselves; /openapi.json marks every
# route that depends on one of them (api/app.py) without a per-request security dependency.
KEY_CHECKS: set[Callable[..., Any]] = set()
F = TypeVar("F", bound=Callable[..., Any])


def checks_key(dependency: F) -> F:
    KEY_CHECKS.add(dependency)
    return dependency


@checks_key
def require_admin(request: Request) -> None:
    given = presented_key(request.headers.get("authorization"))
    if given is None:
        raise ApiError(
            401, "authentication_required",
            "Send the admin key as `Authorization: Bearer <key>` (see `rongpay demo`).",
            type_=AUTHENTICATION, headers={"WWW-Authenticate": 'Bearer realm="rongpay"'},
        )  # fmt: skip
    if not key_matches(given, runtime(request).admin_key):
        if given.startswith(("sk_", "pk_")) and keys.cache_for(get_engine(request)).lookup(
            get_engine(request), given
        ):
            raise ApiError(403, "admin_required", "This route needs the operator's admin key, "
                           "not a merchant's key.", type_=AUTHENTICATION)  # fmt: skip
        raise ApiError(
            401, "invalid_api_key", "The API key given is not valid.",
            type_=AUTHENTICATION, headers={"WWW-Authenticate": 'Bearer realm="rongpay"'},
        )  # fmt: skip


_LONG_NUMBER = re.compile(rb"\d{20}")


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, read no further than LIMIT bytes (413 beyond: a chunked body declares no
    length, so the guard middleware cannot refuse it up front)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"The request body is over {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def optional_json_body(request: Request) -> Any:
    """The JSON body, or None when the request has none (POST /cancel with no parameters)."""
    body = await read_body(request)
    if not body.strip():
        return None
    return _parse_json(body)


async def json_body(request: Request) -> Any:
    """The request body as JSON, whatever the Content-Type (curl -d sends a form type)."""
    return _parse_json(await read_body(request))


def _parse_json(body: bytes) -> Any:
    if not _LONG_NUMBER.search(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:  # orjson turns integers over 64 bits into floats; the stdlib keeps them exact
        # (and it keeps lone UTF-16 surrogates, which each parser refuses with its own code)
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
