"""API keys: `sk_test_`/`sk_live_` secret and `pk_test_`/`pk_live_` publishable keys.

A key is shown once, when made; the database keeps only its SHA-256 (keys are 32 random
bytes, so a plain hash cannot be reversed by guessing) and a redacted form for display.
Authentication looks the hash up, through a small per-process cache whose entries live
KEY_CACHE_S seconds, so a revoked key stops working within that time.
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rongpay.payments import store
from rongpay.payments.ttl_cache import TtlCache
from rongpay.payments.types import Caller, new_id
from rongpay.store.uow import unit_of_work

KEY_CACHE_S = 5.0
KEY_CACHE_LIMIT = 10_000
KINDS = ("secret", "publishable")


def _prefix(kind: str, livemode: bool) -> str:
    return ("sk_" if kind == "secret" else "pk_") + ("live_" if livemode else "test_")


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(conn: Connection, merchant_id: str, *, kind: str, livemode: bool, now: int) -> str:
    """Make a key, store its hash, return the key itself (the only time it is seen)."""
    assert kind in KINDS
    raw = _prefix(kind, livemode) + secrets.token_urlsafe(32)
    conn.execute(
        store.api_keys.insert().values(
            id=new_id("key"), merchant_id=merchant_id, livemode=livemode, kind=kind,
            key_hash=hash_key(raw), redacted=raw[:8] + "..." + raw[-4:], created=now,
        )
    )  # fmt: skip
    return raw


def revoke(conn: Connection, merchant_id: str, key_id: str, now: int) -> bool:
    result = conn.execute(
        store.api_keys.update()
        .where(store.api_keys.c.id == key_id, store.api_keys.c.merchant_id == merchant_id)
        .where(store.api_keys.c.revoked.is_(None))
        .values(revoked=now)
    )
    return result.rowcount == 1


class KeyCache:
    """hash -> (caller, kind) through a short-lived cache; misses are cached too, briefly."""

    def __init__(self) -> None:
        self._cache: TtlCache[str, tuple[Caller | None, str]] = TtlCache(
            KEY_CACHE_S, KEY_CACHE_LIMIT
        )

    def lookup(self, engine: Engine, raw: str) -> tuple[Caller, str] | None:
        digest = hash_key(raw)
        entry = self._cache.get(digest) or self._cache.put(digest, _load(engine, digest))
        caller, kind = entry
        return None if caller is None else (caller, kind)

    def cached(self, raw: str) -> tuple[Caller | None, str] | None:
        """The cached answer for RAW (None: not cached, look it up)."""
        return self._cache.get(hash_key(raw))

    def clear(self) -> None:
        self._cache.clear()


def _load(engine: Engine, digest: str) -> tuple[Caller | None, str]:
    k, m = store.api_keys.c, store.merchants.c
    query = (
        sa.select(k.merchant_id, k.livemode, k.kind)
        .join(store.merchants, m.id == k.merchant_id)
        .where(k.key_hash == digest, k.revoked.is_(None), m.status == "active")
    )
    with unit_of_work(engine, write=False) as conn:
        row = conn.execute(query).first()
    if row is None:
        return None, ""
    return Caller(row.merchant_id, bool(row.livemode)), row.kind


_caches: dict[int, KeyCache] = {}


def cache_for(engine: Engine) -> KeyCache:
    return _caches.setdefault(id(engine), KeyCache())
