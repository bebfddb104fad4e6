"""Group commit for payment use cases: requests that arrive together share one transaction.

A use case is an `Op`: it names the objects it touches (`keys`), reads what it needs and
decides its ledger transfers in `prepare`, and writes its rows in `finish` once the ledger has
judged those transfers. The writer thread takes queued ops whose keys do not overlap (an op
that would touch an object another op of the group touches waits for the next group), runs
every prepare, submits all their transfers to the ledger in one batch (one request per op, so
each keeps its own linked chains and results), runs every finish, and commits once: one fsync
for many payments, as the ledger's own writer does for transfers.

A business refusal (PaymentError) in prepare fails that op alone, before it wrote anything. An
unexpected exception rolls the whole group back; each op is then retried alone, so one bad
request never fails another. Ops therefore keep no state between runs except what prepare sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.ledger import service as ledger
from rongpay.ledger.cache import BalanceCache
from rongpay.ledger.store import Sql
from rongpay.ledger.types import MAX_BATCH, T_LINKED, Account, CreateTransferResult, Transfer
from rongpay.payments import idempotency, store
from rongpay.payments.errors import PaymentError
from rongpay.webhooks import outbox

R = TypeVar("R")
QUEUE_LIMIT = 4096
MAX_GROUP_OPS = 512


class Tx:
    """An op's view of the open transaction: the connection for reads and direct writes,
    and buffered inserts/updates that the writer flushes with executemany per table."""

    def __init__(self, sql: Sql, group: dict[str, Any] | None = None) -> None:
        self.sql = sql  # raw reads on the hot path: tx.sql.one("SELECT ... WHERE id = ?", ...)
        self.conn = sql.conn
        self.group = {} if group is None else group  # shared by the ops of one group commit
        self.inserts: list[tuple[sa.Table, dict[str, Any]]] = []
        self.updates: list[tuple[sa.Table, str, dict[str, Any]]] = []
        self.events: list[outbox.EventItem] = []  # webhook events, emitted with the rest

    def insert(self, table: sa.Table, row: dict[str, Any]) -> None:
        self.inserts.append((table, row))

    def update(self, table: sa.Table, object_id: str, values: dict[str, Any]) -> None:
        self.updates.append((table, object_id, values))


class Op(Generic[R]):
    """One use case. Subclasses set `keys` and implement prepare/finish.

    With `idem` set, the writer handles the idempotency key in the same transaction: phase
    "once" looks the key up (a stored response is returned instead of running the op) and
    stores the response; "reserve" looks it up and marks it running; "complete" stores the
    response of a request reserved earlier (or releases the key if this op is refused).
    """

    keys: tuple[str, ...] = ()

    def __init__(self, idem: idempotency.Idem | None = None, idem_phase: str = "once") -> None:
        assert idem_phase in ("once", "reserve", "complete")
        self.accounts: list[Account] = []
        self.transfers: list[Transfer] = []
        self.idem = idem
        self.idem_phase = idem_phase

    def all_keys(self) -> tuple[str, ...]:
        return self.keys if self.idem is None else (*self.keys, self.idem.name)

    def prepare(self, tx: Tx) -> None:
        """Read and decide; set self.accounts (to open) and self.transfers; raise
        PaymentError to refuse. Must not write."""

    def finish(self, tx: Tx, results: list[CreateTransferResult]) -> R:
        raise NotImplementedError


_Item = tuple[Op[Any], "Future[Any] | _LoopWaiter"]


def _flush(sql: Sql, txs: Sequence[Tx]) -> None:
    """Write what the ops of a group buffered: one executemany per table and column set,
    on the DB-API cursor (SQLAlchemy's per-row parameter processing cost more than the
    statements themselves; the values are already plain ints, str, bool and bytes)."""
    inserts: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = defaultdict(list)
    updates: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = defaultdict(list)
    for tx in txs:
        for table, row in tx.inserts:
            inserts[(table.name, tuple(row))].append(tuple(row.values()))
        for table, object_id, values in tx.updates:
            updates[(table.name, tuple(values))].append((*values.values(), object_id))
    for (name, cols), rows in inserts.items():
        names = ", ".join(f'"{c}"' for c in cols)
        sql.run(f'INSERT INTO "{name}" ({names}) VALUES ({", ".join("?" * len(cols))})', rows)
    outbox.emit_many(sql.conn, [event for tx in txs for event in tx.events])
    for (name, cols), rows in updates.items():
        sets = ", ".join(f'"{c}" = ?' for c in cols)
        sql.run(f'UPDATE "{name}" SET {sets} WHERE id = ?', rows)


def _run_group(engine: Engine, group: list[_Item]) -> list[tuple[bool, Any]]:
    """Run GROUP in one transaction; (True, result) or (False, PaymentError) per op."""

    def work(sql: Sql, meta: ledger.Meta, cache: BalanceCache) -> tuple[list[Any], ledger.Meta]:
        outcomes: list[tuple[bool, Any]] = [(False, None)] * len(group)
        live: list[tuple[int, Op[Any], Tx]] = []
        shared: dict[str, Any] = {}
        for i, (op, _) in enumerate(group):
            tx = Tx(sql, shared)
            op.accounts, op.transfers = [], []
            try:
                if op.idem is not None and op.idem_phase != "complete":
                    stored = idempotency.lookup(sql, op.idem)
                    if stored is not None:
                        outcomes[i] = (True, stored)
                        continue
                op.prepare(tx)
            except PaymentError as exc:
                if op.idem is not None and op.idem_phase == "complete":
                    idempotency.release(sql.conn, op.idem)
                outcomes[i] = (False, exc)
                continue
            assert not tx.inserts and not tx.updates and not tx.events, "prepare must not write"
            live.append((i, op, tx))
        accounts = {a.id: a for _, op, _ in live for a in op.accounts}
        meta = ledger.ensure_accounts(sql, meta, cache, list(accounts.values()))
        requests = [  # the batch engine reads chains from this flag, as the parser sets it
            [(t, CreateTransferResult.ok, bool(t.flags & T_LINKED)) for t in op.transfers]
            for _, op, _ in live
        ]
        results, meta = ledger.submit(sql, meta, cache, requests)
        for (i, op, tx), result in zip(live, results, strict=True):
            outcomes[i] = (True, _keep_response(op, tx, op.finish(tx, result)))
        _flush(sql, [tx for _, _, tx in live])
        return outcomes, meta

    return ledger.write_transaction(engine, work)


def _keep_response(op: Op[Any], tx: Tx, result: Any) -> Any:
    idem = op.idem
    if idem is None:
        return result
    now = int(time.time())
    if op.idem_phase == "reserve":
        tx.insert(store.idempotency, idempotency.row(idem, now, None, None))
        return result
    status, body = idem.respond(result)
    if op.idem_phase == "once":
        tx.insert(store.idempotency, idempotency.row(idem, now, status, body))
    else:
        idempotency.complete(tx.conn, idem, status, body)
    return idempotency.Stored(status, body, replayed=False, result=result)


class PaymentWriter:
    """One writer thread per process and database; run() is safe from any thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pid = os.getpid()
        self._queue: queue.Queue[_Item | None] = queue.Queue(QUEUE_LIMIT)
        self._carry: list[_Item] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="payment-writer", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return not self._closed.is_set() and self.pid == _pid and self._thread.is_alive()

    def submit(self, op: Op[R]) -> Future[R]:
        if not self.alive:
            raise RuntimeError("the payment writer is closed")
        future: Future[R] = Future()
        self._queue.put((op, future))
        return future

    def run(self, op: Op[R]) -> R:
        """Commit OP and return its result (raises its PaymentError)."""
        return self.submit(op).result()

    async def run_async(self, op: Op[R]) -> R:
        """Commit OP from an event loop: its answer comes back with the rest of its group's,
        in one call into the loop (not a thread-safe future and a wake-up per op)."""
        if not self.alive:
            raise RuntimeError("the payment writer is closed")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[R] = loop.create_future()
        self._queue.put((op, _LoopWaiter(loop, waiter)))
        return await waiter

    def close(self) -> None:
        self._closed.set()
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _gather(self) -> list[_Item] | None:
        items = self._carry
        self._carry = []
        if not items:
            first = self._queue.get()
            if first is None:
                return None
            items = [first]
        while len(items) < MAX_GROUP_OPS:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                self._queue.put(None)
                break
            items.append(nxt)
        return self._disjoint(items)

    def _disjoint(self, items: list[_Item]) -> list[_Item]:
        """The longest prefix-order selection whose keys do not overlap; the rest waits."""
        taken: set[str] = set()
        group: list[_Item] = []
        size = 0
        for item in items:
            keys = item[0].all_keys()
            if taken.intersection(keys) or size + 8 > MAX_BATCH:
                self._carry.append(item)
                continue
            taken.update(keys)
            group.append(item)
            size += 8  # an op submits a handful of transfers; 8 is a generous bound
        return group

    def _loop(self) -> None:
        while (group := self._gather()) is not None:
            try:
                outcomes = _run_group(self.engine, group)
            except BaseException:  # rolled back: retry each alone so each gets its own answer
                for item in group:
                    self._run_alone(item)
                continue
            _settle_group(group, outcomes)
        closed = (False, RuntimeError("the payment writer closed before this request"))
        _settle_group(self._carry, [closed] * len(self._carry))

    def _run_alone(self, item: _Item) -> None:
        try:
            (outcome,) = _run_group(self.engine, [item])
        except BaseException as exc:
            outcome = (False, exc)
        _settle_group([item], [outcome])


class _LoopWaiter:
    """An asyncio future waiting in LOOP for an op's outcome."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
        self.loop = loop
        self.future = future


def _settle_group(group: Sequence[_Item], outcomes: Sequence[tuple[bool, Any]]) -> None:
    """Hand each op its outcome: a thread's future at once, a loop's waiters in one call."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, tuple[bool, Any]]]] = {}
    for (_, waiter), outcome in zip(group, outcomes, strict=True):
        if isinstance(waiter, _LoopWaiter):
            by_loop.setdefault(waiter.loop, []).append((waiter.future, outcome))
        else:
            _settle(waiter, outcome)
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_settle_all, pairs)


def _settle_all(pairs: list[tuple[Any, tuple[bool, Any]]]) -> None:
    for future, outcome in pairs:
        _settle(future, outcome)


def _settle(future: Any, outcome: tuple[bool, Any]) -> None:
    """Hand OUTCOME to its caller; a caller that gave up (a cancelled request) gets nothing,
    and the writer goes on (its change is committed all the same)."""
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


_writers: dict[int, PaymentWriter] = {}
_writers_lock = threading.Lock()


def writer_for(engine: Engine) -> PaymentWriter:
    writer = _writers.get(id(engine))
    if writer is not None and writer.engine is engine and writer.alive:
        return writer  # the usual case, without the lock
    with _writers_lock:
        writer = _writers.get(id(engine))
        if writer is None or writer.engine is not engine or not writer.alive:
            writer = _writers[id(engine)] = PaymentWriter(engine)
        return writer


def close_writer(engine: Engine) -> None:
    with _writers_lock:
        writer = _writers.pop(id(engine), None)
    if writer is not None:
        writer.close()


_pid = os.getpid()  # this process's id, kept here: os.getpid() is a system call, asked per op


def _after_fork_in_child() -> None:
    global _writers_lock, _pid
    _writers.clear()
    _writers_lock = threading.Lock()
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)
