"""Ledger use cases, each one unit of work: create accounts, submit transfers, read, expire.

Writers take the ledger's write lock first (BEGIN IMMEDIATE on SQLite, the ledger_meta row
lock on PostgreSQL), so every batch sees the balances the previous one left and timestamps
are strictly increasing across processes. Reads use a snapshot and never block writers.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine

from rongpay.ledger import batch, store
from rongpay.ledger.errors import BatchTooLarge
from rongpay.ledger.parse import parse_account, parse_transfer
from rongpay.ledger.types import (
    A_HISTORY,
    MAX_BATCH,
    Account,
    CreateAccountResult,
    CreateTransferResult,
    PendingState,
    Transfer,
)
from rongpay.store.uow import unit_of_work

ParsedTransfer = tuple[Transfer | None, CreateTransferResult, bool]
EXPIRE_LIMIT = MAX_BATCH  # expired pending transfers released per write transaction


def parse_transfers(raws: Sequence[object]) -> list[ParsedTransfer]:
    if len(raws) > MAX_BATCH:
        raise BatchTooLarge(len(raws))
    return [parse_transfer(r) for r in raws]


def create_accounts(engine: Engine, raws: Sequence[object]) -> list[CreateAccountResult]:
    """Create accounts (linked chains whole or not at all); one result per item, in order."""
    if len(raws) > MAX_BATCH:
        raise BatchTooLarge(len(raws))
    items = [parse_account(r) for r in raws]
    with unit_of_work(engine) as conn:
        sql = store.Sql(conn)
        last_ts, last_batch, last_digest = sql.lock_meta()
        clock = [max(time.time_ns(), last_ts + 1)]
        existing = sql.load_accounts(sorted({a.id for a, _, _ in items if a is not None}))
        results, created = batch.apply_accounts(items, existing, clock)
        sql.insert_accounts(created)
        sql.save_meta(clock[0] - 1 if created else last_ts, last_batch, last_digest)
    return results


def create_transfers(
    engine: Engine, requests: Sequence[Sequence[ParsedTransfer]]
) -> list[list[CreateTransferResult]]:
    """Judge and commit several clients' batches in ONE database transaction (group commit).

    Each request keeps its own linked chains; results come back per request, in order.
    """
    with unit_of_work(engine) as conn:
        return submit(conn, requests)


@dataclass(slots=True)
class _Loaded:
    state: batch.BatchState
    stored_accounts: dict[str, Account]


def _load(sql: store.Sql, items: list[ParsedTransfer]) -> _Loaded:
    ids = {t.id for t, _, _ in items if t is not None}
    pending_ids = {t.pending_id for t, _, _ in items if t is not None and t.pending_id}
    known = sql.load_transfers(sorted(ids | pending_ids))
    pending = sql.load_pending(sorted(pending_ids), known)
    account_ids: set[str] = set()
    for t, _, _ in items:
        if t is not None:
            account_ids.update(a for a in (t.debit_account_id, t.credit_account_id) if a)
    for p in pending.values():
        account_ids.update((p.transfer.debit_account_id or "", p.transfer.credit_account_id or ""))
    stored = sql.load_accounts(sorted(account_ids))
    accounts: dict[str, list[object]] = {
        a.id: [a.ledger, a.flags, a.debits_pending, a.debits_posted, a.credits_pending,
               a.credits_posted]
        for a in stored.values()
    }  # fmt: skip
    return _Loaded(batch.BatchState(accounts, known, pending), stored)


def submit(
    conn: Connection, requests: Sequence[Sequence[ParsedTransfer]]
) -> list[list[CreateTransferResult]]:
    """The batch engine inside an open write transaction."""
    sql = store.Sql(conn)
    last_ts, last_batch, last_digest = sql.lock_meta()
    now = max(time.time_ns(), last_ts + 1)
    clock = [expire_due(sql, now)]
    loaded = _load(sql, [item for request in requests for item in request])
    writes = batch.BatchWrites()
    results = [batch.apply_transfers(list(r), loaded.state, writes, clock) for r in requests]
    if writes.transfers:
        _write(sql, loaded, writes)
        digest = batch_digest(last_digest, writes.transfers)
        sql.insert_batch(
            last_batch + 1,
            writes.transfers[0].timestamp,
            writes.transfers[-1].timestamp,
            len(writes.transfers),
            digest,
        )
        sql.save_meta(clock[0] - 1, last_batch + 1, digest)
    elif clock[0] - 1 > last_ts:
        sql.save_meta(clock[0] - 1, last_batch, last_digest)
    return results


def _write(sql: store.Sql, loaded: _Loaded, writes: batch.BatchWrites) -> None:
    sql.insert_transfers(writes.transfers)
    sql.insert_pending(writes.new_pending)
    sql.set_pending_states(batch.resolved_pending(writes, loaded.state))
    rows = []
    for aid in sorted(writes.touched_accounts):
        a = loaded.state.accounts[aid]
        rows.append((a[2], a[3], a[4], a[5], aid))
    sql.update_balances(rows)  # type: ignore[arg-type]
    sql.insert_history(writes.history)


def batch_digest(previous: str, transfers: Sequence[Transfer]) -> str:
    """SHA-256 chain over every committed transfer: any later change to a row shows."""
    h = hashlib.sha256(previous.encode())
    for t in transfers:
        h.update(canonical(t))
    return h.hexdigest()


def canonical(t: Transfer) -> bytes:
    ud = t.user_data or ""
    return (
        f"{t.timestamp}|{t.id}|{t.debit_account_id}|{t.credit_account_id}|{t.amount}|{t.ledger}|"
        f"{t.code}|{t.flags}|{t.pending_id or ''}|{t.timeout}|{len(ud)}:{ud}\n"
    ).encode()


def expire_due(sql: store.Sql, now: int) -> int:
    """Release pending transfers whose timeout has passed; return the next free timestamp."""
    due = sql.due_pending(now, EXPIRE_LIMIT)
    if not due:
        return now
    transfers = sql.load_transfers(due)
    ids = {a for t in transfers.values() for a in (t.debit_account_id, t.credit_account_id) if a}
    accounts = sql.load_accounts(sorted(ids))
    balances = {
        a.id: [a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted]
        for a in accounts.values()
    }
    history = []
    for t in transfers.values():
        assert t.debit_account_id and t.credit_account_id
        balances[t.debit_account_id][0] -= t.amount
        balances[t.credit_account_id][2] -= t.amount
        for aid in (t.debit_account_id, t.credit_account_id):
            if accounts[aid].flags & A_HISTORY:
                history.append((aid, now, *balances[aid]))
                now += 1
    sql.update_balances([(b[0], b[1], b[2], b[3], aid) for aid, b in balances.items()])
    sql.set_pending_states(dict.fromkeys(transfers, PendingState.expired))
    sql.insert_history(history)  # type: ignore[arg-type]
    return now


def expire(engine: Engine) -> int:
    """Release every pending transfer that is due now; return how many were released."""
    with unit_of_work(engine) as conn:
        sql = store.Sql(conn)
        last_ts, last_batch, last_digest = sql.lock_meta()
        now = max(time.time_ns(), last_ts + 1)
        released = len(sql.due_pending(now, EXPIRE_LIMIT))
        next_ts = expire_due(sql, now)
        sql.save_meta(max(next_ts - 1, last_ts), last_batch, last_digest)
    return released
