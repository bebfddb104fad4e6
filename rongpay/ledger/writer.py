"""Group commit: writers that arrive together share one database transaction.

Each process keeps one LedgerWriter per database. Callers (API requests, threads) hand it
their batch and wait; a single writer thread drains whatever is queued, up to MAX_BATCH
events, and commits it all at once, as TigerBeetle batches its clients' requests. One
fsync then acknowledges many clients. A request is never split across transactions.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from sqlalchemy.engine import Engine

from rongpay.ledger import service
from rongpay.ledger.types import MAX_BATCH, CreateTransferResult

QUEUE_LIMIT = 1024  # requests waiting; beyond it submitters block (back-pressure)

_Request = tuple[list[service.ParsedTransfer], "Future[list[CreateTransferResult]]"]


class LedgerWriter:
    """One writer thread per process and database; submit() is safe from any thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.Queue[_Request | None] = queue.Queue(QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._carry: _Request | None = None
        self._thread.start()

    def submit(self, items: Sequence[service.ParsedTransfer]) -> list[CreateTransferResult]:
        """Commit ITEMS (at most MAX_BATCH) durably; return one result per item."""
        assert len(items) <= MAX_BATCH
        future: Future[list[CreateTransferResult]] = Future()
        self._queue.put((list(items), future))
        return future.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _gather(self) -> tuple[list[_Request], bool]:
        """The next group: the first request (waiting for it) and whatever else is queued."""
        first = self._carry or self._queue.get()
        self._carry = None
        if first is None:
            return [], True
        group, size = [first], len(first[0])
        while True:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                return group, False
            if nxt is None:
                return group, True
            if size + len(nxt[0]) > MAX_BATCH:
                self._carry = nxt
                return group, False
            group.append(nxt)
            size += len(nxt[0])

    def _run(self) -> None:
        stop = False
        while not stop:
            group, stop = self._gather()
            if not group:
                continue
            try:
                results = service.create_transfers(self.engine, [items for items, _ in group])
            except BaseException as exc:  # the transaction rolled back: every caller learns it
                for _, future in group:
                    future.set_exception(exc)
                continue
            for (_, future), result in zip(group, results, strict=True):
                future.set_result(result)


_writers: dict[int, LedgerWriter] = {}
_writers_lock = threading.Lock()


def writer_for(engine: Engine) -> LedgerWriter:
    """The process's writer for ENGINE, started on first use."""
    with _writers_lock:
        writer = _writers.get(id(engine))
        if writer is None:
            writer = _writers[id(engine)] = LedgerWriter(engine)
        return writer
