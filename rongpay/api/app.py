"""The ASGI application: the JSON API under /v1, /healthz, /openapi.json, the back office.

`create_app(db_url, admin_key)` is what `rongpay serve` runs and what the tests drive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Secret
from starlette.responses import Response

from rongpay import __version__
from rongpay.api import (
    edge,
    errors,
    ledger,
    payment_schemas,
    payments,
    qr,
    refunds,
    render,
    runtime_payments,
    schemas,
    wallets,
    webhooks,
)
from rongpay.api.deps import KEY_CHECKS, Runtime, runtime
from rongpay.store import engine as store_engine
from rongpay.web import checkout
from rongpay.web import routes as web_routes
from rongpay.webhooks.dispatcher import Dispatcher

log = logging.getLogger("rongpay.api")

ADMIN_KEY_ENV = "RONGPAY_ADMIN_KEY"


def generate_admin_key() -> str:
    return "rk_admin_" + secrets.token_urlsafe(24)


def admin_key_from(explicit: str | None) -> str | None:
    return explicit or os.environ.get(ADMIN_KEY_ENV) or None


def create_app(db_url: str | None = None, admin_key: str | None = None) -> FastAPI:
    """The whole HTTP service on DB_URL (default $RONGPAY_DB, then ./rongpay.db).

    The admin key is ADMIN_KEY, else $RONGPAY_ADMIN_KEY; with neither, a random key nobody
    knows locks /v1 (`rongpay serve` generates and prints one instead).
    """
    url = store_engine.database_url(db_url)
    key = admin_key_from(admin_key)
    if key is None:
        log.warning("%s is not set: the admin API is locked", ADMIN_KEY_ENV)
        key = generate_admin_key()
    rt = Runtime(url, Secret(key))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            rt.engine()  # migrate on start; a database that is down now is retried later
        except errors.ApiError:
            log.warning("database unavailable at start-up; will retry on each request")
        dispatcher = Dispatcher(rt.engine)  # webhooks: delivers the outbox in the background
        dispatcher.start()
        await runtime_payments.warm(app)
        upkeep = asyncio.get_running_loop().create_task(runtime_payments.sweep_forever(app.state))
        yield
        upkeep.cancel()
        await dispatcher.stop()
        await runtime_payments.close(app.state)
        rt.dispose()

    app = FastAPI(
        title="rongpay",
        version=__version__,
        description="Payment platform HTTP API. Errors: "
        '`{"error": {"type", "code", "message", "param"}}`.',
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # no OpenTelemetry hooks: they read the environment on every request (8% of a no-op)
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.runtime = rt
    errors.install(app)
    payments.install(app)
    app.add_middleware(edge.EdgeMiddleware)
    app.add_api_route(
        "/healthz", healthz, methods=["GET"], tags=["service"], summary="Liveness and database",
        response_model=schemas.Health, responses=schemas.errors(503),
    )  # fmt: skip
    # The router tries routes in order (twice: to pick an included router, then inside it),
    # so the routes that carry the payment traffic come first.
    app.include_router(payments.router)
    app.include_router(wallets.router)
    app.include_router(refunds.router)
    app.include_router(ledger.router)
    app.include_router(payments.admin)
    app.include_router(wallets.admin)
    app.include_router(webhooks.router)
    app.include_router(qr.router)
    app.include_router(web_routes.router)
    app.include_router(checkout.router)
    app.state.gateway_factory = runtime_payments.gateway_of
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def healthz(rt: Annotated[Runtime, Depends(runtime)]) -> Response:
    """200 when the database answers a query, 503 `service_unavailable` when it does not."""
    try:
        with rt.engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise errors.service_unavailable() from exc
    return render.json_response({"status": "ok", "database": rt.dialect})


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with our 400s in place of its 422s and the batch request models."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, description=app.description,
                       routes=app.routes)  # fmt: skip
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in (*schemas.REQUEST_MODELS, *payment_schemas.REQUEST_MODELS):
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(js.pop("$defs", {}))
        components[model.__name__] = js
    _mark_secured(spec, app)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path in spec.get("paths", {}).values():
        for op in path.values():
            responses = op.get("responses", {})
            if responses.pop("422", None) is not None and "400" not in responses:
                responses["400"] = {
                    "description": "parameter_invalid",
                    "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/ErrorResponse"}}},
                }  # fmt: skip
    app.openapi_schema = spec
    return spec


def _mark_secured(spec: dict[str, Any], app: FastAPI) -> None:
    """Name the bearer scheme on every operation whose dependencies check a key. The checks
    read the header themselves: a security sub-dependency per request only fed this page."""
    spec["components"]["securitySchemes"] = {"HTTPBearer": {
        "type": "http", "scheme": "bearer",
        "description": "a merchant's secret key (sk_test_..., sk_live_...) or, for operator "
                       "routes, the admin key (RONGPAY_ADMIN_KEY)",
    }}  # fmt: skip
    for route in iter_route_contexts(app.routes):  # the routes as /openapi.json lists them
        if not isinstance(route.original_route, APIRoute) or not _checks_key(route.dependant):
            continue
        ops = spec["paths"].get(route.path_format, {})
        for method in route.methods or ():
            if method.lower() in ops:
                ops[method.lower()]["security"] = [{"HTTPBearer": []}]


def _checks_key(dependant: Dependant) -> bool:
    return dependant.call in KEY_CHECKS or any(_checks_key(d) for d in dependant.dependencies)
