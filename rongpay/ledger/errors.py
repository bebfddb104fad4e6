"""Ledger exceptions: whole-request failures (per-event outcomes are result codes)."""

from __future__ import annotations

from rongpay.ledger.types import MAX_BATCH


class LedgerError(Exception):
    code = "ledger_error"


class BatchTooLarge(LedgerError):
    code = "batch_too_large"

    def __init__(self, size: int) -> None:
        super().__init__(f"a batch holds at most {MAX_BATCH} events; this one has {size}")


class NotFound(LedgerError):
    code = "resource_missing"
