"""`rongpay sandbox bank` (being written)."""

from __future__ import annotations

from typing import Any


def add_commands(sub: Any) -> None:
    """Add the `bank` parser to SUB."""
