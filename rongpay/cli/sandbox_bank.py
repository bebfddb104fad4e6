"""`rongpay sandbox bank`: run the simulated bank (bank-transfer channel) as its own process.

A simulation for test mode: orders and refunds live in memory and no money moves.
See docs/reference/bank.md.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
from typing import Any

from rongpay.cli.common import CliError, fraction, positive_int

SECRET_ENV = "RONGPAY_SANDBOX_BANK_SECRET"
MAX_LATENCY_MS = 60_000
MAX_DELAY_S = 3600.0


def add_commands(sub: Any) -> None:
    """Add the `bank` parser to SUB."""
    parser = sub.add_parser(
        "bank",
        help="a simulated bank: payment page, signed asynchronous callbacks (in memory)",
        description="Serve the sandbox bank: a SIMULATION of an online-banking provider for "
        "rongpay's bank-transfer channel. Orders and refunds are kept in memory only.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8100, help="TCP port (default 8100)")
    parser.add_argument(
        "--secret",
        default=None,
        help=f"shared secret: the gateway's Bearer key and the callback HMAC key "
        f"(default ${SECRET_ENV})",
    )
    parser.add_argument(
        "--latency-ms",
        type=_non_negative_int,
        default=300,
        help="simulated latency of every answer and callback, +/- 50%% (default 300)",
    )
    parser.add_argument(
        "--callback-delay-s",
        type=_non_negative_float,
        default=1.0,
        help="wait between a decision and its first callback (default 1)",
    )
    parser.add_argument(
        "--max-attempts",
        type=positive_int,
        default=8,
        help="callback tries before giving up (default 8)",
    )
    parser.add_argument(
        "--retry-base-s",
        type=_non_negative_float,
        default=1.0,
        help="backoff: retry n waits base * 2^(n-1), at most 60 s (default 1)",
    )
    parser.add_argument(
        "--duplicate-rate",
        type=fraction,
        default=0.0,
        help="share of delivered callbacks sent a second time (default 0)",
    )
    parser.add_argument(
        "--timeout-rate",
        type=fraction,
        default=0.0,
        help="share of order and refund creations answered only after --stall-s (default 0)",
    )
    parser.add_argument(
        "--stall-s",
        type=_non_negative_float,
        default=10.0,
        help="how late a stalled answer is (default 10)",
    )
    parser.add_argument(
        "--refund-delay-s",
        type=_non_negative_float,
        default=2.0,
        help="wait between a refund instruction and its payout (then its callback; default 2)",
    )
    parser.add_argument(
        "--max-orders",
        type=positive_int,
        default=100_000,
        help="orders held in memory before new ones are refused",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible runs")
    parser.set_defaults(func=run_bank)


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= MAX_LATENCY_MS:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and {MAX_LATENCY_MS}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.0 <= value <= MAX_DELAY_S:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and {MAX_DELAY_S:g}")
    return value


def _check_port(host: str, port: int) -> None:
    """A busy port or an unknown host is a one-line message before anything starts."""
    if not 0 < port < 65536:
        raise CliError(f"--port must be between 1 and 65535, not {port}")
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        raise CliError(f"cannot listen on {host!r}: unknown host") from None
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(f"port {port} on {host} is already in use", exit_code=1) from None
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}", exit_code=1) from None


def run_bank(args: argparse.Namespace) -> int:
    from rongpay.sim.bank import BankConfig
    from rongpay.sim.bank_callbacks import DeliveryPolicy
    from rongpay.sim.bank_server import serve

    secret = args.secret or os.environ.get(SECRET_ENV, "")
    if not secret.strip():
        raise CliError(f"the sandbox bank needs a shared secret: --secret or ${SECRET_ENV}")
    _check_port(args.host, args.port)
    policy = DeliveryPolicy(
        delay_s=args.callback_delay_s,
        latency_ms=args.latency_ms,
        max_attempts=args.max_attempts,
        retry_base_s=args.retry_base_s,
        duplicate_rate=args.duplicate_rate,
    )
    config = BankConfig(
        secret=secret.strip(),
        latency_ms=args.latency_ms,
        delivery=policy,
        max_orders=args.max_orders,
        timeout_rate=args.timeout_rate,
        stall_s=args.stall_s,
        refund_delay_s=args.refund_delay_s,
        seed=args.seed,
    )
    base = f"http://{args.host}:{args.port}"
    print(
        f"Sandbox Bank (a SIMULATION, orders and refunds in memory) serving on {base}", flush=True
    )
    print("Callbacks are signed in the Bank-Signature header with the shared secret.", flush=True)
    return 0 if serve(config, args.host, args.port) else 1
