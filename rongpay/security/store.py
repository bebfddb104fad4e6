"""The vault's table, and the two statements the gateway runs inside its own transaction.

`vault_cards` holds sealed records only (see `security.vault`): a token, the key id, nonce and
ciphertext, and the harmless card facts (brand, last four, expiry, fingerprint). Rows are
written once and never updated; the card number is never in a column in clear.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rongpay.security.vault import VaultRecord
from rongpay.store.metadata import metadata

vault_table = sa.Table(
    "vault_cards",
    metadata,
    sa.Column("token", sa.String(40), primary_key=True),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("nonce", sa.LargeBinary(16), nullable=False),
    sa.Column("ciphertext", sa.LargeBinary(128), nullable=False),
    sa.Column("brand", sa.String(16), nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("exp_month", sa.SmallInteger, nullable=False),
    sa.Column("exp_year", sa.SmallInteger, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),  # epoch seconds, UTC
)

_COLUMNS = (
    "token",
    "key_id",
    "nonce",
    "ciphertext",
    "brand",
    "last4",
    "exp_month",
    "exp_year",
    "fingerprint",
)
_select = sa.select(*(vault_table.c[name] for name in _COLUMNS))
_insert = vault_table.insert()


def insert_record(conn: Connection, record: VaultRecord, *, now_s: int | None = None) -> None:
    """Store RECORD in the caller's transaction (a token is new each seal, so no conflict)."""
    values = {name: getattr(record, name) for name in _COLUMNS}
    values["created_at"] = int(time.time()) if now_s is None else now_s
    conn.execute(_insert, values)  # one statement, compiled once: every card payment runs it


def load_record(conn: Connection, token: str) -> VaultRecord | None:
    row = conn.execute(_select.where(vault_table.c.token == token)).first()
    if row is None:
        return None
    data = row._mapping
    return VaultRecord(
        token=data["token"],
        key_id=data["key_id"],
        nonce=bytes(data["nonce"]),
        ciphertext=bytes(data["ciphertext"]),
        brand=data["brand"],
        last4=data["last4"],
        exp_month=int(data["exp_month"]),
        exp_year=int(data["exp_year"]),
        fingerprint=data["fingerprint"],
    )
