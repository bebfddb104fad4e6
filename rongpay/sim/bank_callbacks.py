"""The SANDBOX bank's callbacks: tell the gateway the outcome later, signed, until it listens.
Orders (the customer paid or declined) and refunds (paid out or failed) are called back alike.

A real online-banking provider confirms a payment asynchronously: the customer's browser comes
back to the shop at once, while the authoritative outcome is POSTed to the merchant's callback
URL some time later, retried with exponential backoff until the merchant answers 2xx. Delivery
is at least once: the same callback can arrive twice (`duplicate_rate` makes that happen on
purpose), so the receiver must be idempotent. This module simulates that; it is not a bank.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson

from rongpay.security.signing import sign
from rongpay.sim.bank_orders import CallbackAttempt, now_rfc3339

SIGNATURE_HEADER = "Bank-Signature"
MAX_TASKS = 100_000  # deliveries in flight at once; beyond it a delivery is not scheduled


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    delay_s: float = 1.0  # between the decision and the first attempt
    latency_ms: int = 300  # simulated network and processing time, +/- 50 %
    max_attempts: int = 8
    retry_base_s: float = 1.0  # wait before retry n is base * 2**(n-1), capped
    retry_max_s: float = 60.0
    timeout_s: float = 10.0  # per attempt
    duplicate_rate: float = 0.0  # chance a delivered callback is sent once more

    def backoff_s(self, attempt: int) -> float:
        """The wait after failed attempt ATTEMPT (1-based)."""
        return float(min(self.retry_base_s * 2 ** (attempt - 1), self.retry_max_s))


def latency_s(latency_ms: int, rng: random.Random) -> float:
    """One simulated latency: LATENCY_MS give or take half, so calls do not move in lockstep."""
    return latency_ms / 1000 * rng.uniform(0.5, 1.5) if latency_ms > 0 else 0.0


class Targets(Protocol):
    """What the sender needs of the books: a callback's URL and payload by object id (an
    order or a refund), and where to record how delivery went."""

    def callback_target(self, object_id: str) -> tuple[str, dict[str, Any]]: ...

    def record_attempt(self, object_id: str, attempt: CallbackAttempt) -> None: ...

    def set_callback_state(self, object_id: str, state: str) -> None: ...


def callback_body(payload: dict[str, Any]) -> bytes:
    """The callback's JSON body; the same bytes on every attempt (only the signature's
    timestamp changes, so a late retry still falls inside the receiver's tolerance)."""
    return orjson.dumps(payload)


class CallbackSender:
    """Background deliveries, one asyncio task per decided order or settled refund, on the
    server's loop."""

    def __init__(
        self, book: Targets, secret: str, policy: DeliveryPolicy, rng: random.Random
    ) -> None:
        self._book = book
        self._secret = secret
        self._policy = policy
        self._rng = rng
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"CallbackSender(policy={self._policy!r}, in_flight={len(self._tasks)})"

    def schedule(self, object_id: str) -> None:
        if len(self._tasks) >= MAX_TASKS:
            self._book.set_callback_state(object_id, "gave_up")
            return
        task = asyncio.get_running_loop().create_task(self._deliver(object_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Cancel deliveries still waiting (the sandbox is stopping) and close the client."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _deliver(self, object_id: str) -> None:
        policy = self._policy
        await asyncio.sleep(policy.delay_s)
        url, payload = self._book.callback_target(object_id)
        body = callback_body(payload)
        for number in range(1, policy.max_attempts + 1):
            if await self._attempt(object_id, url, body, number, duplicate=False):
                self._book.set_callback_state(object_id, "delivered")
                break
            if number < policy.max_attempts:
                await asyncio.sleep(policy.backoff_s(number))
        else:
            self._book.set_callback_state(object_id, "gave_up")
            return
        if self._rng.random() < policy.duplicate_rate:
            await asyncio.sleep(policy.retry_base_s)
            await self._attempt(object_id, url, body, policy.max_attempts + 1, duplicate=True)

    async def _attempt(
        self, object_id: str, url: str, body: bytes, number: int, *, duplicate: bool
    ) -> bool:
        """One POST to the callback URL; True when the gateway answered 2xx."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._policy.timeout_s)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign([self._secret], body),
            "User-Agent": "rongpay-sandbox-bank",
        }
        status_code: int | None = None
        error: str | None = None
        await asyncio.sleep(latency_s(self._policy.latency_ms, self._rng))
        try:
            response = await self._client.post(url, content=body, headers=headers)
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"the gateway answered {status_code}"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: the gateway could not be reached"
        attempt = CallbackAttempt(number, now_rfc3339(), status_code, error, duplicate)
        self._book.record_attempt(object_id, attempt)
        return error is None
