"""A process's cache of account balances, kept only while it is provably current.

Every ledger write runs under the ledger's write lock and advances `ledger_meta`
(last_timestamp, last_batch). The cache remembers the meta version its own last commit left;
when the next writer of this process takes the lock and finds the same version, no other
process has written since, so the cached balances are exact and need not be read again.
Any other version, or any failure, empties the cache. TigerBeetle keeps hot accounts in
memory the same way; here the version check makes it safe with several processes.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy.engine import Engine

CACHE_LIMIT = 1_000_000  # accounts held; beyond it the cache starts again empty

Version = tuple[int, int]


class BalanceCache:
    """id -> [ledger, flags, debits_pending, debits_posted, credits_pending, credits_posted]."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held for a whole write transaction, commit included
        self.balances: dict[str, list[Any]] = {}
        self._version: Version | None = None

    def begin(self, version: Version) -> None:
        """Called under the DB write lock: drop everything unless VERSION is ours."""
        if version != self._version or len(self.balances) > CACHE_LIMIT:
            self.balances.clear()
        self._version = None  # in flight: nothing is trusted until commit() says so

    def commit(self, version: Version) -> None:
        self._version = version

    def drop(self) -> None:
        self.balances.clear()
        self._version = None


_caches: weakref.WeakKeyDictionary[Engine, BalanceCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_for(engine: Engine) -> BalanceCache:
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = BalanceCache()
        return cache


def reset_after_fork() -> None:
    """In a forked child: forget every cache (a lock copied mid-write would never unlock)."""
    global _caches_lock, _caches
    _caches = weakref.WeakKeyDictionary()
    _caches_lock = threading.Lock()
