"""Commands of this capability (filled in by its owner)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any, bench: Any) -> None:
    """Add this capability's commands; see rongpay.cli for the contract."""
    del commands, bench


__all__ = ["argparse", "register"]
