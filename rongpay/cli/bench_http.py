"""A small HTTP/1.1 load generator for `rongpay bench payments`.

Why not httpx: it spends about 0.3 ms of CPU per request, which on a two-core machine is a
large share of what the server itself spends, so the bench would measure its own client.
This client speaks just enough HTTP/1.1 over raw asyncio streams (keep-alive, Content-Length
bodies, no chunked encoding, no TLS) and runs in a process of its own (`run_phase` is what the
process pool calls), so it never shares a GIL with the server or the orchestrator. Each phase
also reports the client's own CPU time per request, so its cost is visible next to the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_HEADER_BYTES = 65_536
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_CONCURRENCY = 4096
CONNECT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 60.0  # a server that stops answering ends the bench, never hangs it


class HttpError(Exception):
    """The server answered something this client cannot read (or closed the connection)."""


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    """One phase: REQUESTS requests of one kind, CONCURRENCY clients, each on its own
    keep-alive connection. Request i sends BODIES[i % len(BODIES)] (or none when empty) with
    `Idempotency-Key: {IDEM_PREFIX}{i}` when IDEM_PREFIX is set."""

    name: str
    host: str
    port: int
    method: str
    path: str
    bearer: str
    bodies: tuple[bytes, ...]
    requests: int
    concurrency: int
    idem_prefix: str = ""
    success_marker: bytes = b""  # a 2xx body must contain this to count as succeeded


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """What a phase measured; latencies in milliseconds, from the client's clock. PER_S
    counts answered requests (any status): a request that got no answer is an error only."""

    name: str
    requests: int
    seconds: float
    per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    ok: int
    succeeded: int
    errors: dict[str, int] = field(default_factory=dict)
    client_cpu_us_per_request: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "seconds": round(self.seconds, 3),
            "per_s": round(self.per_s, 1), "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2), "max_ms": round(self.max_ms, 2), "ok": self.ok,
            "succeeded": self.succeeded, "errors": dict(sorted(self.errors.items())),
            "client_cpu_us_per_request": round(self.client_cpu_us_per_request, 1),
        }  # fmt: skip


def request_head(spec: PhaseSpec, index: int, body: bytes) -> bytes:
    idem = f"{spec.idem_prefix}{index}" if spec.idem_prefix else ""
    return build_head(spec.method, spec.path, f"{spec.host}:{spec.port}", spec.bearer, idem, body)


def build_head(method: str, path: str, host: str, bearer: str, idem: str, body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
    if bearer:
        lines.append(f"Authorization: Bearer {bearer}")
    if idem:
        lines.append(f"Idempotency-Key: {idem}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


class Connection:
    """One keep-alive connection; `send` is one request and its whole response."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is not None and self._writer is not None:
            return self._reader, self._writer
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, limit=MAX_HEADER_BYTES),
            CONNECT_TIMEOUT_S,
        )
        self._reader, self._writer = reader, writer
        return reader, writer

    async def send(self, data: bytes) -> tuple[int, bytes]:
        """(status, body); HttpError or OSError closes the connection (the next send reopens)."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):  # TimeoutError is an OSError
                reader, writer = await self._open()
                writer.write(data)
                head = await reader.readuntil(b"\r\n\r\n")
                status, length, close = parse_head(head)
                body = await reader.readexactly(length) if length else b""
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            await self.close()
            raise HttpError(f"connection closed or oversized head: {type(exc).__name__}") from None
        except (HttpError, OSError):
            await self.close()
            raise
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, content length, server closes) from a response head."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HttpError("not an HTTP/1.x status line")
    length: int | None = None
    close = parts[0] == b"HTTP/1.0"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            text = value.strip()
            if not text.isdigit() or int(text) > MAX_BODY_BYTES:
                raise HttpError("bad Content-Length")
            length = int(text)
        elif key == b"transfer-encoding":
            raise HttpError("chunked responses are not supported by the bench client")
        elif key == b"connection":
            close = value.strip().lower() == b"close"
    if length is None:
        raise HttpError("response without Content-Length")
    return int(parts[1]), length, close


def error_key(status: int, body: bytes) -> str:
    """How a non-2xx answer is counted: "402 card_declined", "503", ..."""
    try:
        data = orjson.loads(body)
        code = data["error"]["code"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return str(status)
    return f"{status} {code}"


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(q * len(sorted_values) - 1e-9)))
    return sorted_values[rank - 1]


async def _drive(spec: PhaseSpec) -> PhaseResult:
    assert 0 < spec.concurrency <= MAX_CONCURRENCY
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    counts = {"next": 0, "ok": 0, "succeeded": 0, "answered": 0}
    bodies = spec.bodies or (b"",)

    async def client() -> None:
        conn = Connection(spec.host, spec.port)
        try:
            while counts["next"] < spec.requests:
                i = counts["next"]
                counts["next"] = i + 1
                body = bodies[i % len(bodies)]
                data = request_head(spec, i, body) + body
                start = time.perf_counter()
                try:
                    status, answer = await conn.send(data)
                except (HttpError, OSError) as exc:
                    errors[f"transport {type(exc).__name__}"] += 1
                    continue
                latencies.append((time.perf_counter() - start) * 1000.0)
                counts["answered"] += 1
                if 200 <= status < 300:
                    counts["ok"] += 1
                    counts["succeeded"] += spec.success_marker in answer
                else:
                    errors[error_key(status, answer)] += 1
        finally:
            await conn.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(min(spec.concurrency, spec.requests))))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    latencies.sort()
    return PhaseResult(
        name=spec.name, requests=spec.requests, seconds=seconds,
        per_s=counts["answered"] / seconds if seconds > 0 else 0.0,
        p50_ms=percentile(latencies, 0.50), p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else 0.0, ok=counts["ok"],
        succeeded=counts["succeeded"], errors=dict(errors),
        client_cpu_us_per_request=cpu * 1e6 / spec.requests,
    )  # fmt: skip


def _event_loop_runner() -> Any:
    """uvloop when installed (uvicorn's standard extra brings it): a cheaper client."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def run_phase(spec: PhaseSpec) -> PhaseResult:
    """Entry point of the load process: drive SPEC to the end and summarise it."""
    result: PhaseResult = _event_loop_runner()(_drive(spec))
    return result


async def call(
    conn: Connection, method: str, path: str, bearer: str, payload: Any = None, idem: str = ""
) -> tuple[int, Any]:
    """One JSON request on CONN for set-up work (seeding): (status, decoded body or None)."""
    body = b"" if payload is None else orjson.dumps(payload)
    head = build_head(method, path, f"{conn.host}:{conn.port}", bearer, idem, body)
    status, answer = await conn.send(head + body)
    try:
        return status, orjson.loads(answer) if answer else None
    except orjson.JSONDecodeError:
        return status, None
