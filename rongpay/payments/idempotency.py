"""Idempotency keys: the first response to a POST is stored with its request's fingerprint,
in the same transaction as the change it reports, and replayed for every retry.

- same key, same request: the stored response again (`Idempotent-Replayed: true`);
- same key, other parameters: `idempotency_error`;
- same key while the first request still runs (a card authorisation in flight): 409
  `idempotency_key_in_use`. Within one process two concurrent duplicates never both run:
  the writer never puts two ops with the same key in one group, and the later one finds the
  first one's row.
Keys are scoped to the merchant (or the operator) and the mode, and kept KEY_TTL_S.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from rongpay.ledger.store import Sql
from rongpay.payments import store
from rongpay.payments.errors import Kind, PaymentError

MAX_KEY = 255
KEY_TTL_S = 24 * 3600

Respond = Callable[[Any], tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class Stored:
    """A response kept for replay."""

    status: int
    body: bytes
    replayed: bool
    result: Any = None  # what the op returned, when this response was made just now


@dataclass(frozen=True, slots=True)
class Idem:
    owner: str
    livemode: bool
    key: str
    fingerprint: str
    respond: Respond

    @property
    def name(self) -> str:
        return f"idem:{self.owner}:{int(self.livemode)}:{self.key}"


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS) if body is not None else b""
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


# every POST with a key runs this: plain SQL on the cursor
_LOOKUP = (
    "SELECT fingerprint, status_code, body FROM pay_idempotency "
    'WHERE owner = ? AND livemode = ? AND "key" = ?'
)


def lookup(sql: Sql, idem: Idem) -> Stored | None:
    """The stored response for IDEM's key, or None; PaymentError when the key is in use for
    another request or still running."""
    row = sql.one(_LOOKUP, (idem.owner, idem.livemode, idem.key))
    if row is None:
        return None
    fingerprint, status_code, body = row
    if fingerprint != idem.fingerprint:
        raise PaymentError(
            Kind.invalid, "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try a new key for this request (key {idem.key!r}).",
            param="Idempotency-Key",
        )  # fmt: skip
    if status_code is None:
        raise in_use(idem.key)
    return Stored(status_code, bytes(body), True)


def in_use(key: str) -> PaymentError:
    return PaymentError(
        Kind.conflict, "idempotency_key_in_use",
        f"A request with idempotency key {key!r} is still being processed; retry shortly.",
        param="Idempotency-Key",
    )  # fmt: skip


def row(idem: Idem, now: int, status: int | None, body: bytes | None) -> dict[str, Any]:
    return {
        "owner": idem.owner, "livemode": idem.livemode, "key": idem.key,
        "fingerprint": idem.fingerprint, "status_code": status, "body": body, "created": now,
    }  # fmt: skip


_COMPLETE = (
    "UPDATE pay_idempotency SET status_code = ?, body = ? WHERE owner = ? AND livemode = ? "
    'AND "key" = ?'
)


def complete(conn: Connection, idem: Idem, status: int, body: bytes) -> None:
    """Store the answer of a key reserved earlier (every card payment's second commit)."""
    Sql(conn).run(_COMPLETE, [(status, body, idem.owner, idem.livemode, idem.key)])


def release(conn: Connection, idem: Idem) -> None:
    """Forget a reserved key whose request could not finish, so a retry runs afresh."""
    t = store.idempotency.c
    conn.execute(
        store.idempotency.delete().where(
            t.owner == idem.owner, t.livemode == idem.livemode, t.key == idem.key,
            t.status_code.is_(None),
        )
    )  # fmt: skip
