"""Pieces every command module shares: the CLI error and the --db option."""

from __future__ import annotations

import argparse


class CliError(Exception):
    """A user-facing failure: printed as `rongpay: MESSAGE` with EXIT_CODE, never a traceback."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="sqlite:///PATH or postgresql://...; default $RONGPAY_DB, else ./rongpay.db",
    )
