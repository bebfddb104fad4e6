"""Group commit: writers that arrive together share one database transaction.

Each process keeps one LedgerWriter per database. Callers (API requests, threads) hand it
their batch and wait; a single writer thread drains whatever is queued, up to MAX_BATCH
events, and commits it all at once, as TigerBeetle batches its clients' requests. One
fsync then acknowledges many clients. A request is never split across transactions, and
one request's failure never fails another's: a group whose transaction raises is retried
request by request, so each caller gets its own outcome.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from sqlalchemy.engine import Engine

from rongpay.ledger import cache, service
from rongpay.ledger.types import MAX_BATCH, CreateTransferResult

QUEUE_LIMIT = 1024  # requests waiting; beyond it submitters block (back-pressure)

_Request = tuple[list[service.ParsedTransfer], "Future[list[CreateTransferResult]]"]


class WriterClosed(RuntimeError):
    """The writer was closed before it took the request; nothing of it was written."""


class LedgerWriter:
    """One writer thread per process and database; submit() is safe from any thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pid = os.getpid()
        self._queue: queue.Queue[_Request | None] = queue.Queue(QUEUE_LIMIT)
        self._carry: _Request | None = None
        self._closed = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self.pid == os.getpid() and self._thread.is_alive() and not self._closed.is_set()

    def submit(self, items: Sequence[service.ParsedTransfer]) -> list[CreateTransferResult]:
        """Commit ITEMS (at most MAX_BATCH) durably; return one result per item."""
        assert len(items) <= MAX_BATCH
        if not self.alive:
            raise WriterClosed("the ledger writer is closed")
        future: Future[list[CreateTransferResult]] = Future()
        self._queue.put((list(items), future))
        return future.result()

    def close(self) -> None:
        """Finish what was taken, refuse the rest, stop the thread."""
        self._closed.set()
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._refuse_queued()

    def _refuse_queued(self) -> None:
        pending = [self._carry] if self._carry else []
        self._carry = None
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                pending.append(item)
        for _, future in pending:
            future.set_exception(WriterClosed("the ledger writer closed before this request"))

    def _gather(self) -> list[_Request] | None:
        """The next group: the first request (waiting for it) and whatever else is queued;
        None when the writer is closing."""
        if self._stopping and self._carry is None:
            return None
        first = self._carry or self._queue.get()
        self._carry = None
        if first is None:
            return None
        group, size = [first], len(first[0])
        while True:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                return group
            if nxt is None:
                self._stopping = True  # stop once this group (and any carry) is done
                return group
            if size + len(nxt[0]) > MAX_BATCH:
                self._carry = nxt
                return group
            group.append(nxt)
            size += len(nxt[0])

    def _run(self) -> None:
        while (group := self._gather()) is not None:
            try:
                results = service.create_transfers(self.engine, [items for items, _ in group])
            except BaseException as exc:  # rolled back: nothing of the group was written
                if len(group) == 1:
                    group[0][1].set_exception(exc)
                    continue
                for items, future in group:
                    self._commit_alone(items, future)
                continue
            for (_, future), result in zip(group, results, strict=True):
                future.set_result(result)

    def _commit_alone(
        self, items: list[service.ParsedTransfer], future: Future[list[CreateTransferResult]]
    ) -> None:
        try:
            (result,) = service.create_transfers(self.engine, [items])
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)


_writers: dict[int, LedgerWriter] = {}
_writers_lock = threading.Lock()


def writer_for(engine: Engine) -> LedgerWriter:
    """The process's writer for ENGINE, started on first use (again after a fork or close)."""
    with _writers_lock:
        writer = _writers.get(id(engine))
        if writer is None or writer.engine is not engine or not writer.alive:
            writer = _writers[id(engine)] = LedgerWriter(engine)
        return writer


def _after_fork_in_child() -> None:
    # Threads do not survive fork, and a lock copied while held would stay held forever.
    global _writers_lock
    _writers.clear()
    _writers_lock = threading.Lock()
    cache.reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
