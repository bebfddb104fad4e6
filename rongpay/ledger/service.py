"""Ledger use cases, each one unit of work: create accounts, submit transfers, read, expire.

Writers take the ledger's write lock first (BEGIN IMMEDIATE on SQLite, the ledger_meta row
lock on PostgreSQL), so every batch sees the balances the previous one left and timestamps
are strictly increasing across processes. Reads use a snapshot and never block writers.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.engine import Engine

from rongpay.ledger import batch, store
from rongpay.ledger.cache import BalanceCache, cache_for
from rongpay.ledger.errors import BatchTooLarge
from rongpay.ledger.parse import parse_account, parse_transfer
from rongpay.ledger.types import (
    A_HISTORY,
    MAX_BATCH,
    Account,
    Balance,
    CreateAccountResult,
    CreateTransferResult,
    PendingState,
    Transfer,
)
from rongpay.store.uow import unit_of_work

ParsedTransfer = tuple[Transfer | None, CreateTransferResult, bool]
EXPIRE_LIMIT = MAX_BATCH  # expired pending transfers released per write transaction
T = TypeVar("T")


def parse_transfers(raws: Sequence[object]) -> list[ParsedTransfer]:
    if len(raws) > MAX_BATCH:
        raise BatchTooLarge(len(raws))
    return [parse_transfer(r) for r in raws]


_Work = Callable[[store.Sql, "Meta", BalanceCache], tuple[T, "Meta"]]


@dataclass(frozen=True, slots=True)
class Meta:
    """The ledger's write-lock row: the last timestamp given and the batch digest chain."""

    last_timestamp: int
    last_batch: int
    last_digest: str

    @property
    def version(self) -> tuple[int, int]:
        return self.last_timestamp, self.last_batch


def write_transaction(engine: Engine, work: _Work[T]) -> T:
    """Run WORK in one write transaction under the ledger lock, with the balance cache.

    WORK returns its result and the Meta to save; the cache is trusted again only after
    the commit succeeded, and emptied on any failure.
    """
    cache = cache_for(engine)
    with cache.lock:
        try:
            with unit_of_work(engine) as conn:
                sql = store.Sql(conn)
                meta = Meta(*sql.lock_meta())
                cache.begin(meta.version)
                result, after = work(sql, meta, cache)
                if after != meta:
                    sql.save_meta(after.last_timestamp, after.last_batch, after.last_digest)
        except BaseException:
            cache.drop()
            raise
        cache.commit(after.version)
        return result


def create_accounts(engine: Engine, raws: Sequence[object]) -> list[CreateAccountResult]:
    """Create accounts (linked chains whole or not at all); one result per item, in order."""
    if len(raws) > MAX_BATCH:
        raise BatchTooLarge(len(raws))
    items = [parse_account(r) for r in raws]
    return write_transaction(engine, lambda sql, meta, _: add_accounts(sql, meta, items))


def add_accounts(
    sql: store.Sql, meta: Meta, items: list[tuple[Account | None, CreateAccountResult, bool]]
) -> tuple[list[CreateAccountResult], Meta]:
    """Judge and insert parsed accounts inside an open write transaction."""
    clock = [max(time.time_ns(), meta.last_timestamp + 1)]
    existing = sql.load_accounts(sorted({a.id for a, _, _ in items if a is not None}))
    results, created = batch.apply_accounts(items, existing, clock)
    if not created:
        return results, meta
    sql.insert_accounts(created)
    return results, Meta(clock[0] - 1, meta.last_batch, meta.last_digest)


def ensure_accounts(
    sql: store.Sql, meta: Meta, cache: BalanceCache, accounts: Sequence[Account]
) -> Meta:
    """Create those of ACCOUNTS that do not exist yet, inside an open write transaction.

    For callers (payments) that open accounts on first use; an account already in the
    balance cache is known to exist and costs no query. An existing account with other fields
    is a programming error.
    """
    missing = {a.id: a for a in accounts if a.id not in cache.balances}
    if not missing:
        return meta
    items: list[tuple[Account | None, CreateAccountResult, bool]] = [
        (a, CreateAccountResult.ok, False) for a in missing.values()
    ]
    results, after = add_accounts(sql, meta, items)
    assert all(r in (CreateAccountResult.ok, CreateAccountResult.exists) for r in results), results
    return after


def create_transfers(
    engine: Engine, requests: Sequence[Sequence[ParsedTransfer]]
) -> list[list[CreateTransferResult]]:
    """Judge and commit several clients' batches in ONE database transaction (group commit).

    Each request keeps its own linked chains; results come back per request, in order.
    """
    return write_transaction(engine, lambda sql, meta, cache: submit(sql, meta, cache, requests))


def _load(sql: store.Sql, items: list[ParsedTransfer], cache: BalanceCache) -> batch.BatchState:
    """Read exactly what this batch can touch: colliding ids, pending transfers, accounts."""
    ids = {t.id for t, _, _ in items if t is not None}
    pending_ids = {t.pending_id for t, _, _ in items if t is not None and t.pending_id}
    known = sql.load_transfers(sorted(ids | pending_ids))
    pending = sql.load_pending(sorted(pending_ids), known)
    balances = cache.balances
    missing: set[str] = set()
    for t, _, _ in items:
        if t is not None:
            if t.debit_account_id not in balances:
                missing.add(t.debit_account_id or "")
            if t.credit_account_id not in balances:
                missing.add(t.credit_account_id or "")
    for p in pending.values():
        missing.add(p.transfer.debit_account_id or "")
        missing.add(p.transfer.credit_account_id or "")
    missing.discard("")
    balances.update(sql.load_balances(sorted(missing)))
    return batch.BatchState(balances, known, pending)


def submit(
    sql: store.Sql, meta: Meta, cache: BalanceCache, requests: Sequence[Sequence[ParsedTransfer]]
) -> tuple[list[list[CreateTransferResult]], Meta]:
    """The batch engine inside the write transaction: expire, load, judge, write."""
    now = max(time.time_ns(), meta.last_timestamp + 1)
    released, next_ts = expire_due(sql, now, cache)
    clock = [next_ts]
    state = _load(sql, [item for request in requests for item in request], cache)
    writes = batch.BatchWrites()
    results = [batch.apply_transfers(list(r), state, writes, clock) for r in requests]
    if not writes.transfers:
        if not released:
            return results, meta
        return results, Meta(max(now, next_ts - 1), meta.last_batch, meta.last_digest)
    _write(sql, state, writes)
    rows = writes.transfers
    digest = batch_digest(meta.last_digest, rows)
    sql.insert_batch(meta.last_batch + 1, rows[0][-1], rows[-1][-1], len(rows), digest)
    return results, Meta(clock[0] - 1, meta.last_batch + 1, digest)


def _write(sql: store.Sql, state: batch.BatchState, writes: batch.BatchWrites) -> None:
    sql.insert_transfers(writes.transfers)
    sql.insert_pending(writes.new_pending)
    sql.set_pending_states(batch.resolved_pending(writes, state))
    accounts = state.accounts
    rows = [(*accounts[aid][2:6], aid) for aid in sorted(writes.touched_accounts)]
    sql.update_balances(rows)  # type: ignore[arg-type]
    sql.insert_history(writes.history)


def batch_digest(previous: str, rows: Sequence[batch.TransferRow]) -> str:
    """SHA-256 chain over every committed transfer: any later change to a row shows."""
    h = hashlib.sha256(previous.encode())
    h.update("".join(map(canonical, rows)).encode())
    return h.hexdigest()


def canonical(row: batch.TransferRow) -> str:
    """One transfer row as text; user_data is length-prefixed so no separator is ambiguous."""
    ud = row[9] or ""
    return "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%d:%s\n" % (*row[:9], row[10], len(ud), ud)  # noqa: UP031


def expire_due(sql: store.Sql, now: int, cache: BalanceCache) -> tuple[int, int]:
    """Release pending transfers whose timeout has passed.

    Returns (how many, the next free timestamp). Released accounts leave the cache, so the
    batch that follows reads their new balances from this same transaction.
    """
    due = sql.due_pending(now, EXPIRE_LIMIT)
    if not due:
        return 0, now
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
    for aid in ids:
        cache.balances.pop(aid, None)
    return len(transfers), now


def expire(engine: Engine) -> int:
    """Release every pending transfer that is due now; return how many were released."""

    def work(sql: store.Sql, meta: Meta, cache: BalanceCache) -> tuple[int, Meta]:
        now = max(time.time_ns(), meta.last_timestamp + 1)
        released, next_ts = expire_due(sql, now, cache)
        if not released:
            return 0, meta
        return released, Meta(max(next_ts - 1, now), meta.last_batch, meta.last_digest)

    return write_transaction(engine, work)


# -- reads ---------------------------------------------------------------------------------
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of an account statement: the transfer and the posted balance after it."""

    transfer: Transfer
    debits_posted: int
    credits_posted: int


def get_account(engine: Engine, account_id: str) -> Account | None:
    with unit_of_work(engine, write=False) as conn:
        return store.get_account(conn, account_id)


def get_transfer(engine: Engine, transfer_id: str) -> Transfer | None:
    with unit_of_work(engine, write=False) as conn:
        return store.get_transfer(conn, transfer_id)


def pending_state(engine: Engine, transfer_id: str) -> PendingState | None:
    """posted / voided / expired / pending for a pending transfer (expired once due)."""
    with unit_of_work(engine, write=False) as conn:
        found = store.get_pending_state(conn, transfer_id)
    if found is None:
        return None
    state, expires_at = found
    if state is PendingState.pending and expires_at is not None and expires_at <= time.time_ns():
        return PendingState.expired
    return state


def statement(
    engine: Engine,
    account_id: str,
    *,
    after: int | None = None,
    limit: int = 100,
    reverse: bool = False,
) -> list[Entry]:
    """An account's transfers in time order with the running posted balance after each.

    `after` is the timestamp cursor of the last entry already seen (cursor pagination).
    """
    assert 0 < limit <= MAX_PAGE
    with unit_of_work(engine, write=False) as conn:
        rows = store.account_transfers(conn, account_id, after, limit, reverse)
        if not rows:
            return []
        first = min(r.timestamp for r in rows)
        debits, credits = store.posted_sums_before(conn, account_id, first)
    ordered = sorted(rows, key=lambda r: r.timestamp)
    entries = []
    for t in ordered:
        if not t.flags & store.NOT_POSTED:
            if t.debit_account_id == account_id:
                debits += t.amount
            else:
                credits += t.amount
        entries.append(Entry(t, debits, credits))
    return entries[::-1] if reverse else entries


def balance_at(engine: Engine, account_id: str, at_ns: int) -> Balance | None:
    """The balances of a `history` account as they were at AT_NS (None before its first)."""
    with unit_of_work(engine, write=False) as conn:
        return store.balance_at(conn, account_id, at_ns)


def list_accounts(
    engine: Engine, *, ledger: str | None = None, after_id: str | None = None, limit: int = 100
) -> list[Account]:
    """Accounts in id order (text order), optionally of one ledger; cursor = last id seen."""
    assert 0 < limit <= MAX_PAGE
    with unit_of_work(engine, write=False) as conn:
        return store.list_accounts(conn, ledger, after_id, limit)


@dataclass(frozen=True, slots=True)
class LedgerVolume:
    ledger: str
    accounts: int
    transfers: int
    posted_minor: int  # posted money moved (pending and void transfers move none)


@dataclass(frozen=True, slots=True)
class Overview:
    """What the back office's front page shows, read in one snapshot."""

    accounts: list[Account]
    account_total: int
    transfers: list[Transfer]
    volumes: list[LedgerVolume]


def overview(engine: Engine, *, accounts_limit: int = 200, transfers_limit: int = 25) -> Overview:
    assert 0 < accounts_limit <= MAX_PAGE and 0 < transfers_limit <= MAX_PAGE
    with unit_of_work(engine, write=False, isolation="REPEATABLE READ") as conn:
        first = store.first_accounts(conn, accounts_limit)
        latest = store.latest_transfers(conn, transfers_limit)
        totals = store.ledger_totals(conn)
    volumes = [LedgerVolume(code, *t) for code, t in totals.items()]
    return Overview(first, sum(v.accounts for v in volumes), latest, volumes)
