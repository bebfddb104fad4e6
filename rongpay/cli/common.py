"""Pieces every command module shares: the CLI error and the --db option."""

from __future__ import annotations

import argparse
from typing import Any

_engines: list[Any] = []


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


def open_engine(db: str | None) -> Any:
    """The migrated Engine for --db (or $RONGPAY_DB, or ./rongpay.db); closed when the command
    ends. Bad URLs and unreachable databases become CliErrors."""
    from rongpay.store import engine as store_engine

    try:
        engine = store_engine.create(store_engine.database_url(db))
    except store_engine.DatabaseUrlError as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:  # connection refused, unreadable file, ...
        first_line = str(exc).strip().split("\n")[0]
        raise CliError(f"cannot open the database: {type(exc).__name__}: {first_line}") from None
    _engines.append(engine)
    return engine


def dispose_engines() -> None:
    while _engines:
        _engines.pop().dispose()


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def fraction(text: str) -> float:
    """argparse type: a number between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value
