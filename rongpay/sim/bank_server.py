"""Running the SANDBOX bank: as its own process (the CLI) or on a thread (tests, benchmarks).

Either way it is a real HTTP server on a real port, so the gateway's connector meets real
sockets, timeouts and latency.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from rongpay.sim.bank import BankConfig, create_app

START_TIMEOUT_S = 30.0  # a bound on waiting for the thread's server, not a performance target


def serve(config: BankConfig, host: str, port: int) -> bool:
    """Serve until interrupted; False when the server could not start."""
    server = uvicorn.Server(_uvicorn_config(config, host, port, log_level="info"))
    server.run()
    return bool(server.started)


def _uvicorn_config(config: BankConfig, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(config),
        host=host,
        port=port,
        workers=1,
        log_level=log_level,
        access_log=False,
        lifespan="on",
    )


@contextmanager
def serve_in_thread(config: BankConfig, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve on a free port of HOST on a daemon thread; yields the base URL, stops on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(_uvicorn_config(config, host, port, log_level="warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="sandbox-bank", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox bank did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
        sock.close()
