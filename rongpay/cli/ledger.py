"""Commands of this capability (being written)."""

from __future__ import annotations

from typing import Any


def register(commands: Any, bench: Any) -> None:
    del commands, bench
