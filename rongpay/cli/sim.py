"""`rongpay simulate`: synthetic, labelled payment traffic in DESIGN.md's event format."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from rongpay.cli.common import CliError


def register(commands: Any, bench: Any) -> None:
    """Add `rongpay simulate`; see rongpay.cli for the contract."""
    del bench
    p = commands.add_parser(
        "simulate",
        help="write synthetic labelled traffic (JSON Lines) for risk and AML",
        description="Simulate customers, merchants and employers; write their events in time "
        "order with fraud (label_fraud) and laundering (label_aml, label_aml_case) labels.",
    )
    p.add_argument("--days", type=int, required=True, help="number of days to simulate")
    p.add_argument("--customers", type=int, required=True, help="number of customers")
    p.add_argument("--merchants", type=int, required=True, help="number of merchants")
    p.add_argument("--out", required=True, metavar="EVENTS.jsonl", help="output file")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--start",
        default="2026-10-01",
        metavar="YYYY-MM-DD",
        help="first simulated day, local time UTC+8 (default 2026-10-01)",
    )
    p.add_argument("--quiet", action="store_true", help="no summary on stderr")
    p.set_defaults(func=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    from rongpay.sim.generator import SimConfig, SimConfigError, write_jsonl

    try:
        start = dt.date.fromisoformat(args.start)
    except ValueError as exc:
        raise CliError(f"--start must be a date YYYY-MM-DD, got {args.start!r}") from exc
    cfg = SimConfig(args.days, args.customers, args.merchants, args.seed, start)
    try:
        cfg.check()
    except SimConfigError as exc:
        raise CliError(str(exc)) from exc
    out = Path(args.out)
    if not out.parent.is_dir():
        raise CliError(f"cannot write {out}: directory {out.parent} does not exist")
    try:
        stats = write_jsonl(cfg, out)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror}") from exc
    if not args.quiet:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(stats.by_label.items()))
        print(
            f"wrote {stats.events} events to {out}: {stats.fraud_events} fraud, "
            f"{stats.aml_events} laundering in {stats.aml_cases} cases ({labels})",
            file=sys.stderr,
        )
    return 0
