"""`rongpay sandbox issuer`: the SIMULATED card issuer, its own process, speaking ISO 8583 over
TCP to the gateway's card channel (docs/reference/cards.md)."""

from __future__ import annotations

import argparse
from typing import Any

from rongpay.cli.common import CliError, fraction


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 3600.0:
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 3600")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0 to 65535)")
    return int(text)


def add_commands(sub: Any) -> None:
    """Add the `issuer` parser to SUB."""
    parser = sub.add_parser(
        "issuer",
        help="simulated card issuer (ISO 8583 over TCP) with Stripe-like test cards",
        description="A SIMULATED card issuer for test mode: balances, holds, captures, "
        "refunds, reversals, chargebacks, latency and drops. State is kept in memory.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=8583, help="TCP port (0: any free port)")
    parser.add_argument(
        "--latency-ms", type=_non_negative, default=20.0, help="median answer latency"
    )
    parser.add_argument(
        "--jitter",
        type=_non_negative,
        default=0.3,
        help="spread of the lognormal latency (its sigma; 0 for a fixed latency)",
    )
    parser.add_argument(
        "--drop-rate",
        type=fraction,
        default=0.0,
        help="share of financial messages lost (half on the way in, half on the way out)",
    )
    parser.add_argument(
        "--dispute-after-s",
        type=_non_negative,
        default=2.0,
        help="seconds after capture that the dispute test card is charged back",
    )
    parser.add_argument(
        "--balance-minor",
        type=int,
        default=10_000_000,
        help="opening balance of every cardholder account, per currency, in minor units",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed latency and drops")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every message")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from rongpay.sim.issuer import IssuerConfig, run

    if args.balance_minor < 0:
        raise CliError("--balance-minor must not be negative")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = IssuerConfig(
        latency_ms=args.latency_ms,
        jitter=args.jitter,
        drop_rate=args.drop_rate,
        dispute_after_s=args.dispute_after_s,
        default_balance_minor=args.balance_minor,
        seed=args.seed,
    )
    try:
        asyncio.run(run(config, args.host, args.port))
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0
