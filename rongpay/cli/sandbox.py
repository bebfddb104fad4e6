"""`rongpay sandbox issuer|bank`: the simulated outside parties, each its own process."""

from __future__ import annotations

from typing import Any

from rongpay.cli import sandbox_bank, sandbox_issuer


def register(commands: Any, bench: Any) -> None:
    parser = commands.add_parser(
        "sandbox", help="simulated outside parties (card issuer, bank) for test mode"
    )
    sub = parser.add_subparsers(dest="sandbox_command", metavar="PARTY", required=True)
    sandbox_issuer.add_commands(sub)
    sandbox_bank.add_commands(sub)
