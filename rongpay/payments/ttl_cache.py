"""A small per-process cache whose entries live a few seconds: for rows the payment path
reads on every request but that change rarely (merchants, API keys, customers, mandates).
A change made here drops the entry at once; one made by another process is seen within
the time to live."""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl_s: float = 5.0, limit: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.limit = limit
        self._entries: dict[K, tuple[V, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is None or time.monotonic() - hit[1] > self.ttl_s:
            return None
        return hit[0]

    def put(self, key: K, value: V) -> V:
        with self._lock:
            if len(self._entries) >= self.limit:
                self._entries.clear()  # bounded: start afresh rather than grow
            self._entries[key] = (value, time.monotonic())
        return value

    def drop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
