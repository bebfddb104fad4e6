"""The SANDBOX bank: a simulated online-banking provider for the bank-transfer channel.

Not a bank and not part of the gateway: it runs as its own process (`rongpay sandbox bank`) so
the gateway talks to it over HTTP exactly as it would to a real provider. The gateway creates an
order (`POST /orders`, Bearer shared secret, idempotent on `reference`), sends the customer to
`/pay/{id}`, the customer approves or declines there, is redirected back to the shop, and the
bank later POSTs the outcome, signed with the shared secret (`Bank-Signature`), to the order's
callback URL, retrying until the gateway answers 2xx. A paid order can be refunded
(`POST /orders/{id}/refunds`, idempotent on the acquirer's refund `reference`): the refund is
`pending`, is paid out `refund_delay_s` later (or fails: `account_closed`, once the payer's
account was closed with `POST /orders/{id}/close_account`) and is called back the same way.
Latency, late answers (`timeout_rate`) and duplicate callbacks are simulated on purpose.
Orders and refunds live in memory only.
See docs/reference/bank.md.
"""

from __future__ import annotations

import asyncio
import hmac
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from rongpay.sim import bank_page
from rongpay.sim.bank_callbacks import CallbackSender, DeliveryPolicy, latency_s
from rongpay.sim.bank_orders import (
    MAX_ORDERS,
    BankCode,
    BankSimError,
    CallbackAttempt,
    OrderBook,
    OrderStatus,
    order_json,
    parse_failure_code,
    parse_order_request,
)
from rongpay.sim.bank_refunds import (
    RefundBook,
    parse_refund_request,
    refund_callback,
    refund_json,
)

MAX_BODY_BYTES = 16 * 1024  # an order is a few hundred bytes

STATUS = {
    BankCode.UNAUTHORIZED: 401,
    BankCode.ORDER_NOT_FOUND: 404,
    BankCode.REFUND_NOT_FOUND: 404,
    BankCode.REFERENCE_CONFLICT: 409,
    BankCode.ALREADY_DECIDED: 409,
    BankCode.ORDER_NOT_PAID: 409,
    BankCode.CAPACITY_EXCEEDED: 503,
    BankCode.ROUTE_NOT_FOUND: 404,
    BankCode.METHOD_NOT_ALLOWED: 405,
}  # every other code is a 400


@dataclass(frozen=True, slots=True)
class BankConfig:
    secret: str = field(repr=False)  # the gateway's Bearer key here and the callback HMAC key
    latency_ms: int = 300  # added to every API answer and callback, +/- 50 %
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    max_orders: int = MAX_ORDERS
    timeout_rate: float = 0.0  # share of order and refund creations answered only after stall_s
    stall_s: float = 10.0
    # between a refund's creation and its payout (then the callback); None: only when told
    # (POST /refunds/{id}/settle), so a test can look at a refund while it is pending
    refund_delay_s: float | None = 2.0
    seed: int | None = None  # for reproducible latencies, stalls and duplicates


def error_response(exc: BankSimError) -> Response:
    body = {"error": {"code": str(exc.code), "message": exc.message, "param": exc.param}}
    return _json(body, STATUS.get(exc.code, 400))


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def with_order(url: str, order_id: str) -> str:
    """RETURN_URL with `order=<id>` added to its query."""
    parts = urlsplit(url)
    added = urlencode({"order": order_id})  # the merchant's own query is kept byte for byte
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))


async def read_body(request: Request) -> bytes:
    """The body, refused past MAX_BODY_BYTES without reading the rest."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BankSimError(BankCode.INVALID_JSON, f"the body exceeds {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request) -> Any:
    body = await read_body(request)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BankSimError(BankCode.INVALID_JSON, "the body is not valid JSON") from None


class SandboxBank:
    """The handlers, over one in-memory order book and one callback sender."""

    def __init__(self, config: BankConfig) -> None:
        assert config.secret, "the sandbox bank needs a secret"
        self.config = config
        self.rng = random.Random(config.seed)
        self.book = OrderBook(config.max_orders)
        self.refunds = RefundBook(self.book, config.max_orders)
        self.sender = CallbackSender(_Targets(self.book, self.refunds), config.secret,
                                     config.delivery, self.rng)  # fmt: skip
        self._payouts: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"SandboxBank(orders={len(self.book)}, config={self.config!r})"

    async def _pause(self) -> None:
        await asyncio.sleep(latency_s(self.config.latency_ms, self.rng))

    def _authenticate(self, request: Request) -> None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = self.config.secret.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise BankSimError(
                BankCode.UNAUTHORIZED, "use Authorization: Bearer <the shared secret>"
            )

    async def create_order(self, request: Request) -> Response:
        try:
            self._authenticate(request)
            order, created = self.book.create(parse_order_request(await read_json(request)))
        except BankSimError as exc:
            return error_response(exc)
        await self._pause()
        if created and self.rng.random() < self.config.timeout_rate:
            await asyncio.sleep(self.config.stall_s)  # the order exists; the answer is late
        return _json(order_json(order, _base_url(request)), 201 if created else 200)

    async def get_order(self, request: Request) -> Response:
        try:
            self._authenticate(request)
            order = self.book.get(request.path_params["order_id"])
        except BankSimError as exc:
            return error_response(exc)
        await self._pause()
        refunds = [refund_json(r) for r in self.refunds.of_order(order.id)]
        return _json({**order_json(order, _base_url(request)), "refunds": refunds})

    async def decide_order(self, request: Request) -> Response:
        """The simulated customer's decision through the API (tests, benchmarks)."""
        try:
            self._authenticate(request)
            data = await read_json(request)
            if not isinstance(data, dict) or data.get("decision") not in ("approve", "decline"):
                raise BankSimError(
                    BankCode.INVALID_DECISION, 'decision must be "approve" or "decline"', "decision"
                )
            approve = data["decision"] == "approve"
            failure_code = parse_failure_code(data.get("failure_code"), approve=approve)
            order = self.book.decide(
                request.path_params["order_id"], approve=approve, failure_code=failure_code
            )
        except BankSimError as exc:
            return error_response(exc)
        self.sender.schedule(order.id)
        await self._pause()
        return _json(order_json(order, _base_url(request)))

    async def create_refund(self, request: Request) -> Response:
        """The acquirer's refund instruction for a paid order (idempotent on `reference`)."""
        try:
            self._authenticate(request)
            data = await read_json(request)
            wanted = parse_refund_request(request.path_params["order_id"], data)
            refund, created = self.refunds.create(wanted)
        except BankSimError as exc:
            return error_response(exc)
        if created and self.config.refund_delay_s is not None:
            self._pay_out_later(refund.id, self.config.refund_delay_s)
        await self._pause()
        if created and self.rng.random() < self.config.timeout_rate:
            await asyncio.sleep(self.config.stall_s)  # the refund exists; the answer is late
        return _json(refund_json(self.refunds.get(refund.id)), 201 if created else 200)

    async def get_refund(self, request: Request) -> Response:
        try:
            self._authenticate(request)
            refund = self.refunds.get(request.path_params["refund_id"])
        except BankSimError as exc:
            return error_response(exc)
        await self._pause()
        return _json(refund_json(refund))

    async def close_account(self, request: Request) -> Response:
        """Simulation only: the payer of this order closed their account, so refunds to it
        that are not paid out yet fail with `account_closed` (tests, demos)."""
        try:
            self._authenticate(request)
            self.refunds.close_account(request.path_params["order_id"])
            order = self.book.get(request.path_params["order_id"])
        except BankSimError as exc:
            return error_response(exc)
        await self._pause()
        return _json({**order_json(order, _base_url(request)), "account": "closed"})

    async def settle_refund(self, request: Request) -> Response:
        """Simulation only: pay a pending refund out now (tests, demos)."""
        try:
            self._authenticate(request)
            refund = self.refunds.get(request.path_params["refund_id"])
            if self.refunds.settle(refund.id) is None:
                raise BankSimError(
                    BankCode.ALREADY_DECIDED, f"refund {refund.id} is already {refund.status}"
                )
        except BankSimError as exc:
            return error_response(exc)
        self.sender.schedule(refund.id)
        await self._pause()
        return _json(refund_json(self.refunds.get(refund.id)))

    def _pay_out_later(self, refund_id: str, delay_s: float) -> None:
        async def pay_out() -> None:
            await asyncio.sleep(delay_s)
            if self.refunds.settle(refund_id) is not None:
                self.sender.schedule(refund_id)

        task = asyncio.get_running_loop().create_task(pay_out())
        self._payouts.add(task)
        task.add_done_callback(self._payouts.discard)

    async def aclose(self) -> None:
        for task in list(self._payouts):
            task.cancel()
        await asyncio.gather(*self._payouts, return_exceptions=True)
        await self.sender.aclose()

    async def show_page(self, request: Request) -> Response:
        await self._pause()
        try:
            order = self.book.get(request.path_params["order_id"])
        except BankSimError:
            return _not_found()
        return HTMLResponse(bank_page.pay_page(order))

    async def submit_page(self, request: Request) -> Response:
        """The customer's form: record the decision, send them back to the shop at once."""
        await self._pause()
        try:
            order = self.book.get(request.path_params["order_id"])
            form = parse_qs((await read_body(request)).decode("utf-8", "replace"))
        except BankSimError as exc:
            if exc.code is BankCode.ORDER_NOT_FOUND:
                return _not_found()
            return HTMLResponse(bank_page.message_page("Bad request", exc.message), 400)
        decision = (form.get("decision") or [""])[0]
        if order.status is not OrderStatus.PENDING:
            return HTMLResponse(bank_page.decided_page(order, refused=True), 409)
        if decision not in ("approve", "decline"):
            message = "Choose Approve or Decline."
            return HTMLResponse(bank_page.message_page("Bad request", message), 400)
        approve = decision == "approve"
        try:
            code = None if approve else parse_failure_code(form.get("failure_code", [None])[0],
                                                           approve=False)  # fmt: skip
            order = self.book.decide(order.id, approve=approve, failure_code=code)
        except BankSimError as exc:
            return HTMLResponse(bank_page.message_page("Bad request", exc.message), 400)
        self.sender.schedule(order.id)
        return RedirectResponse(with_order(order.request.return_url, order.id), 303)


class _Targets:
    """The callback sender's view of both books: `bo_...` ids are orders, `br_...` refunds."""

    def __init__(self, orders: OrderBook, refunds: RefundBook) -> None:
        self._orders = orders
        self._refunds = refunds

    def callback_target(self, object_id: str) -> tuple[str, dict[str, Any]]:
        if object_id.startswith("br_"):
            refund = self._refunds.get(object_id)
            order = self._orders.get(refund.request.order_id)
            return order.request.callback_url, refund_callback(refund)
        return self._orders.callback_target(object_id)

    def record_attempt(self, object_id: str, attempt: CallbackAttempt) -> None:
        book = self._refunds if object_id.startswith("br_") else self._orders
        book.record_attempt(object_id, attempt)

    def set_callback_state(self, object_id: str, state: str) -> None:
        book = self._refunds if object_id.startswith("br_") else self._orders
        book.set_callback_state(object_id, state)


def _not_found() -> Response:
    message = "This bank has no such payment order. It may have expired, or the bank restarted."
    return HTMLResponse(bank_page.message_page("Payment not found", message), 404)


async def _home(request: Request) -> Response:
    del request
    body = "<h2>Sandbox Bank</h2><p>A simulated bank for rongpay's bank-transfer channel.</p>"
    return HTMLResponse(bank_page.page("Home", body))


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in the bank's error shape too."""
    del request
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error_response(BankSimError(BankCode.METHOD_NOT_ALLOWED, "method not allowed here"))
    return error_response(BankSimError(BankCode.ROUTE_NOT_FOUND, "no such endpoint at this bank"))


async def _health(request: Request) -> Response:
    del request
    return _json({"status": "ok", "bank": bank_page.BANK_NAME, "simulation": True})


def create_app(config: BankConfig) -> Starlette:
    """The sandbox bank as an ASGI app (serve it with uvicorn)."""
    bank = SandboxBank(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        del app
        yield
        await bank.aclose()

    routes = [
        Route("/", _home, methods=["GET"]),
        Route("/healthz", _health, methods=["GET"]),
        Route("/orders", bank.create_order, methods=["POST"]),
        Route("/orders/{order_id}", bank.get_order, methods=["GET"]),
        Route("/orders/{order_id}/decide", bank.decide_order, methods=["POST"]),
        Route("/orders/{order_id}/refunds", bank.create_refund, methods=["POST"]),
        Route("/orders/{order_id}/close_account", bank.close_account, methods=["POST"]),
        Route("/refunds/{refund_id}", bank.get_refund, methods=["GET"]),
        Route("/refunds/{refund_id}/settle", bank.settle_refund, methods=["POST"]),
        Route("/pay/{order_id}", bank.show_page, methods=["GET"]),
        Route("/pay/{order_id}", bank.submit_page, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _http_error}
    )
    app.state.bank = bank
    return app
