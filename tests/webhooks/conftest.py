"""A real HTTP receiver on a free local port, scripted to fail or succeed, and helpers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy.engine import Engine

from rongpay.webhooks import endpoints
from rongpay.webhooks.parse import parse_create
from rongpay.webhooks.types import Endpoint, Owner

OWNER = Owner("acct_test_1", False)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next status of `script` (the last one repeats)."""

    url: str = ""
    script: list[int] = field(default_factory=lambda: [200])
    requests: list[Received] = field(default_factory=list)
    got_one: threading.Event = field(default_factory=threading.Event)
    hold: threading.Event = field(default_factory=threading.Event)  # answers wait for it

    def __post_init__(self) -> None:
        self.hold.set()

    def next_status(self) -> int:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


@contextmanager
def serving(state: Receiver) -> Iterator[Receiver]:
    """Serve STATE on a free local port until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(size)
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            state.hold.wait(30)
            status = state.next_status()
            reply = b'{"received": true}' if status < 300 else b"upstream broke"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            state.got_one.set()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        state.hold.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver()) as state:
        yield state


def make_endpoint(
    engine: Engine, url: str, events: list[str] | None = None, owner: Owner = OWNER
) -> Endpoint:
    body = {"url": url, "enabled_events": events or ["*"]}
    return endpoints.create_endpoint(engine, owner, parse_create(body, livemode=owner.livemode))


def closed_port_url() -> str:
    """A local URL nobody listens on: connections are refused at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone"
