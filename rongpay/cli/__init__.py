"""The `rongpay` command: one argparse tree, one module per capability.

Each module in COMMAND_MODULES exposes `register(commands, bench)`: `commands` is the top-level
subparsers object, `bench` the subparsers of `rongpay bench`. Modules import their heavy
dependencies inside the command function so `rongpay --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rongpay.cli.common import CliError, dispose_engines

COMMAND_MODULES = (
    "rongpay.cli.serve",
    "rongpay.cli.ledger",
    "rongpay.cli.sim",
    "rongpay.cli.risk",
    "rongpay.cli.compliance",
    "rongpay.cli.qr",
    "rongpay.cli.sandbox",
    "rongpay.cli.bench_payments",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rongpay",
        description="rongpay: payment gateway, double-entry ledger, risk and compliance.",
    )
    from rongpay import __version__

    parser.add_argument("--version", action="version", version=f"rongpay {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    bench_parser = commands.add_parser("bench", help="benchmarks, each beside its baseline")
    bench = bench_parser.add_subparsers(dest="bench_target", metavar="TARGET", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands, bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except CliError as exc:
        print(f"rongpay: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `rongpay risk score ... | head`: the reader left; not an error of ours.
        sys.stderr.close()
        return 0
    finally:
        dispose_engines()
    return int(code or 0)
