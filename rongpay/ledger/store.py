"""Ledger tables and the SQL the batch engine needs, on SQLite and PostgreSQL.

The hot path (load a batch's accounts, insert thousands of transfers, write balances) talks
to the DB-API cursor directly: executemany on SQLite, COPY and unnest() on PostgreSQL. Posted
transfers are never updated or deleted; database triggers refuse it (see the migration).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rongpay.ledger.batch import Pending
from rongpay.ledger.types import T_PENDING, T_VOID, Account, Balance, PendingState, Transfer
from rongpay.store.metadata import metadata

_rowid = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

accounts = sa.Table(
    "ledger_accounts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("ledger", sa.String(3), nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("flags", sa.Integer, nullable=False),
    sa.Column("owner", sa.String(256)),
    sa.Column("debits_pending", sa.BigInteger, nullable=False),
    sa.Column("debits_posted", sa.BigInteger, nullable=False),
    sa.Column("credits_pending", sa.BigInteger, nullable=False),
    sa.Column("credits_posted", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
)

transfers = sa.Table(
    "ledger_transfers",
    metadata,
    sa.Column("timestamp", _rowid, primary_key=True, autoincrement=False),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("debit_account_id", sa.String(64), nullable=False),
    sa.Column("credit_account_id", sa.String(64), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("ledger", sa.String(3), nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("flags", sa.Integer, nullable=False),
    sa.Column("pending_id", sa.String(64)),
    sa.Column("timeout", sa.Integer, nullable=False),
    sa.Column("user_data", sa.String(256)),
)

pending = sa.Table(
    "ledger_pending",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("expires_at", sa.BigInteger),
    sa.Column("state", sa.String(16), nullable=False),
)

history = sa.Table(
    "ledger_history",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("timestamp", sa.BigInteger, primary_key=True),
    sa.Column("debits_pending", sa.BigInteger, nullable=False),
    sa.Column("debits_posted", sa.BigInteger, nullable=False),
    sa.Column("credits_pending", sa.BigInteger, nullable=False),
    sa.Column("credits_posted", sa.BigInteger, nullable=False),
)

meta = sa.Table(
    "ledger_meta",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("last_timestamp", sa.BigInteger, nullable=False),
    sa.Column("last_batch", sa.BigInteger, nullable=False),
    sa.Column("last_digest", sa.String(64), nullable=False),
)

batches = sa.Table(
    "ledger_batches",
    metadata,
    sa.Column("seq", _rowid, primary_key=True, autoincrement=False),
    sa.Column("first_timestamp", sa.BigInteger, nullable=False),
    sa.Column("last_timestamp", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
)

ACCOUNT_COLS = (
    "id, ledger, code, flags, owner, debits_pending, debits_posted, "
    "credits_pending, credits_posted, timestamp"
)
TRANSFER_COLS = (
    "id, debit_account_id, credit_account_id, amount, ledger, code, flags, "
    "pending_id, timeout, user_data, timestamp"
)
NOT_POSTED = T_PENDING | T_VOID  # flags of transfers that move no posted balance
IN_CHUNK = 4000  # ids per IN (...) on SQLite (its variable limit is 32766)


@functools.lru_cache(maxsize=256)
def _pg_markers(sql: str) -> str:
    return sql.replace("?", "%s")  # the statements here hold no literal question marks


class Sql:
    """Dialect-aware raw SQL on the connection of one unit of work."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.raw: Any = conn.connection.driver_connection
        self.p = "%s" if self.pg else "?"

    def cursor(self) -> Any:
        return self.raw.cursor()

    def one(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """The first row of SQL, written with `?` markers (`%s` on PostgreSQL), straight on
        the DB-API cursor: for reads on a hot path, without SQLAlchemy's statement and
        result machinery (several times its cost for a one-row read)."""
        cur = self.cursor()
        cur.execute(_pg_markers(sql) if self.pg else sql, params)
        row: tuple[Any, ...] | None = cur.fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Every row of SQL (with `?` markers), as `one` reads the first."""
        cur = self.cursor()
        cur.execute(_pg_markers(sql) if self.pg else sql, params)
        return list(cur.fetchall())

    def run(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """SQL (with `?` markers) once per row of ROWS, as one executemany."""
        if rows:
            self.cursor().executemany(_pg_markers(sql) if self.pg else sql, rows)

    def select_in(self, sql_head: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """Rows of `sql_head WHERE <key> IN ids`; sql_head ends with the key column name."""
        if not ids:
            return []
        cur = self.cursor()
        if self.pg:
            cur.execute(f"{sql_head} = ANY(%s)", (list(ids),))
            return list(cur.fetchall())
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(ids), IN_CHUNK):
            chunk = ids[i : i + IN_CHUNK]
            cur.execute(f"{sql_head} IN ({','.join('?' * len(chunk))})", chunk)
            rows.extend(cur.fetchall())
        return rows

    # -- the write lock ------------------------------------------------------------------
    def lock_meta(self) -> tuple[int, int, str]:
        """Take the ledger's write lock; return (last_timestamp, last_batch, last_digest).

        SQLite already holds the database write lock (BEGIN IMMEDIATE); on PostgreSQL the
        meta row lock serialises ledger writers, so balances are read and written by one
        writer at a time and timestamps are strictly increasing across processes.
        """
        cur = self.cursor()
        lock = " FOR UPDATE" if self.pg else ""
        cur.execute(
            f"SELECT last_timestamp, last_batch, last_digest FROM ledger_meta WHERE id = 1{lock}"
        )
        row = cur.fetchone()
        assert row is not None, "ledger_meta is seeded by the migration"
        return int(row[0]), int(row[1]), str(row[2])

    def save_meta(self, last_timestamp: int, last_batch: int, last_digest: str) -> None:
        p = self.p
        self.cursor().execute(
            f"UPDATE ledger_meta SET last_timestamp = {p}, last_batch = {p}, last_digest = {p} "
            "WHERE id = 1",
            (last_timestamp, last_batch, last_digest),
        )

    # -- accounts ------------------------------------------------------------------------
    def load_accounts(self, ids: Sequence[str]) -> dict[str, Account]:
        rows = self.select_in(f"SELECT {ACCOUNT_COLS} FROM ledger_accounts WHERE id", ids)
        return {r[0]: Account(*r) for r in rows}

    def load_balances(self, ids: Sequence[str]) -> dict[str, list[Any]]:
        """The batch engine's view of accounts: id -> [ledger, flags, dp, dpo, cp, cpo]."""
        rows = self.select_in(
            "SELECT id, ledger, flags, debits_pending, debits_posted, credits_pending, "
            "credits_posted FROM ledger_accounts WHERE id",
            ids,
        )
        return {r[0]: list(r[1:]) for r in rows}

    def insert_accounts(self, rows: Iterable[Account]) -> None:
        p = self.p
        self.cursor().executemany(
            f"INSERT INTO ledger_accounts ({ACCOUNT_COLS}) VALUES ({','.join([p] * 10)})",
            [(a.id, a.ledger, a.code, a.flags, a.owner, 0, 0, 0, 0, a.timestamp) for a in rows],
        )

    def update_balances(self, rows: list[tuple[int, int, int, int, str]]) -> None:
        """rows: (debits_pending, debits_posted, credits_pending, credits_posted, id)."""
        if not rows:
            return
        cur = self.cursor()
        if self.pg:
            cols = list(zip(*rows, strict=True))
            cur.execute(
                "UPDATE ledger_accounts AS a SET debits_pending = v.dp, debits_posted = v.dpo, "
                "credits_pending = v.cp, credits_posted = v.cpo FROM unnest("
                "%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[]) "
                "AS v(dp, dpo, cp, cpo, id) WHERE a.id = v.id",
                [list(c) for c in cols],
            )
            return
        cur.executemany(
            "UPDATE ledger_accounts SET debits_pending = ?, debits_posted = ?, "
            "credits_pending = ?, credits_posted = ? WHERE id = ?",
            rows,
        )

    # -- transfers -----------------------------------------------------------------------
    def load_transfers(self, ids: Sequence[str]) -> dict[str, Transfer]:
        """The stored transfers among IDS. Most ids of a fresh batch are new: probe the id
        index alone first, then read the few rows that exist."""
        found = [r[0] for r in self.select_in("SELECT id FROM ledger_transfers WHERE id", ids)]
        rows = self.select_in(f"SELECT {TRANSFER_COLS} FROM ledger_transfers WHERE id", found)
        return {r[0]: Transfer(*r) for r in rows}

    def insert_transfers(self, tuples: Sequence[tuple[Any, ...]]) -> None:
        """Rows in TRANSFER_COLS order."""
        if not tuples:
            return
        cur = self.cursor()
        if self.pg:
            with cur.copy(f"COPY ledger_transfers ({TRANSFER_COLS}) FROM STDIN") as copy:
                for row in tuples:
                    copy.write_row(row)
            return
        cur.executemany(
            f"INSERT INTO ledger_transfers ({TRANSFER_COLS}) VALUES ({','.join('?' * 11)})",
            tuples,
        )

    # -- pending transfers ---------------------------------------------------------------
    def load_pending(
        self, ids: Sequence[str], transfers_by_id: dict[str, Transfer]
    ) -> dict[str, Pending]:
        rows = self.select_in("SELECT id, expires_at, state FROM ledger_pending WHERE id", ids)
        return {
            r[0]: Pending(transfers_by_id[r[0]], PendingState(r[2]), r[1])
            for r in rows
            if r[0] in transfers_by_id
        }

    def insert_pending(self, rows: list[Pending]) -> None:
        if rows:
            p = self.p
            self.cursor().executemany(
                f"INSERT INTO ledger_pending (id, expires_at, state) VALUES ({p}, {p}, {p})",
                [(x.transfer.id, x.expires_at, str(x.state)) for x in rows],
            )

    def set_pending_states(self, states: dict[str, PendingState]) -> None:
        if states:
            p = self.p
            self.cursor().executemany(
                f"UPDATE ledger_pending SET state = {p} WHERE id = {p}",
                [(str(s), i) for i, s in states.items()],
            )

    def due_pending(self, now: int, limit: int) -> list[str]:
        p = self.p
        cur = self.cursor()
        cur.execute(
            f"SELECT id FROM ledger_pending WHERE state = 'pending' AND expires_at IS NOT NULL "
            f"AND expires_at <= {p} ORDER BY expires_at LIMIT {int(limit)}",
            (now,),
        )
        return [r[0] for r in cur.fetchall()]

    # -- history and batches -------------------------------------------------------------
    def insert_history(self, rows: list[tuple[str, int, int, int, int, int]]) -> None:
        if rows:
            p = self.p
            self.cursor().executemany(
                "INSERT INTO ledger_history (account_id, timestamp, debits_pending, debits_posted, "
                f"credits_pending, credits_posted) VALUES ({','.join([p] * 6)})",
                rows,
            )

    def insert_batch(self, seq: int, first: int, last: int, count: int, digest: str) -> None:
        p = self.p
        self.cursor().execute(
            "INSERT INTO ledger_batches (seq, first_timestamp, last_timestamp, count, digest) "
            f"VALUES ({p}, {p}, {p}, {p}, {p})",
            (seq, first, last, count, digest),
        )


# -- reads (SQLAlchemy Core: not on the hot path) ----------------------------------------
_TRANSFER_COLUMNS = [transfers.c[n.strip()] for n in TRANSFER_COLS.split(",")]  # Transfer order


def get_account(conn: Connection, account_id: str) -> Account | None:
    row = conn.execute(sa.select(accounts).where(accounts.c.id == account_id)).first()
    return Account(*row) if row else None


def get_transfer(conn: Connection, transfer_id: str) -> Transfer | None:
    row = conn.execute(sa.select(*_TRANSFER_COLUMNS).where(transfers.c.id == transfer_id)).first()
    return Transfer(*row) if row else None


def get_pending_state(conn: Connection, transfer_id: str) -> tuple[PendingState, int | None] | None:
    row = conn.execute(
        sa.select(pending.c.state, pending.c.expires_at).where(pending.c.id == transfer_id)
    ).first()
    return (PendingState(row[0]), row[1]) if row else None


def account_transfers(
    conn: Connection, account_id: str, after_ts: int | None, limit: int, reverse: bool
) -> list[Transfer]:
    """An account's transfers ordered by timestamp, starting after the cursor."""
    ts = transfers.c.timestamp
    where = sa.or_(
        transfers.c.debit_account_id == account_id, transfers.c.credit_account_id == account_id
    )
    query = sa.select(*_TRANSFER_COLUMNS).where(where)
    if after_ts is not None:
        query = query.where(ts < after_ts if reverse else ts > after_ts)
    query = query.order_by(ts.desc() if reverse else ts.asc()).limit(limit)
    return [Transfer(*r) for r in conn.execute(query)]


def posted_sums_before(conn: Connection, account_id: str, before_ts: int) -> tuple[int, int]:
    """(debits_posted, credits_posted) from transfers strictly before before_ts."""
    t = transfers
    out = []
    for col in (t.c.debit_account_id, t.c.credit_account_id):
        q = sa.select(sa.func.coalesce(sa.func.sum(t.c.amount), 0)).where(
            col == account_id, t.c.timestamp < before_ts, t.c.flags.op("&")(NOT_POSTED) == 0
        )
        out.append(int(conn.execute(q).scalar_one()))
    return out[0], out[1]


def balance_at(conn: Connection, account_id: str, at_ts: int) -> Balance | None:
    h = history
    row = conn.execute(
        sa.select(h)
        .where(h.c.account_id == account_id, h.c.timestamp <= at_ts)
        .order_by(h.c.timestamp.desc())
        .limit(1)
    ).first()
    return Balance(*row) if row else None


def list_accounts(
    conn: Connection, ledger: str | None, after_id: str | None, limit: int
) -> list[Account]:
    q = sa.select(accounts).order_by(accounts.c.id).limit(limit)
    if ledger:
        q = q.where(accounts.c.ledger == ledger)
    if after_id is not None:
        q = q.where(accounts.c.id > after_id)
    return [Account(*r) for r in conn.execute(q)]


def first_accounts(conn: Connection, limit: int) -> list[Account]:
    """Accounts by ledger, oldest first (the back office's overview)."""
    a = accounts
    rows = conn.execute(sa.select(a).order_by(a.c.ledger, a.c.timestamp).limit(limit))
    return [Account(*r) for r in rows]


def latest_transfers(conn: Connection, limit: int) -> list[Transfer]:
    t = transfers
    rows = conn.execute(sa.select(*_TRANSFER_COLUMNS).order_by(t.c.timestamp.desc()).limit(limit))
    return [Transfer(*r) for r in rows]


def ledger_totals(conn: Connection) -> dict[str, tuple[int, int, int]]:
    """ledger -> (accounts, transfers, posted minor units). Posted volume is summed in Python
    over the accounts' debits posted (equal to the posted transfers by the ledger's first
    invariant): SQL SUM overflows 64 bits on SQLite, Python integers do not."""
    out: dict[str, list[int]] = {}
    for ledger, debits_posted in conn.execute(
        sa.select(accounts.c.ledger, accounts.c.debits_posted)
    ):
        row = out.setdefault(ledger, [0, 0, 0])
        row[0] += 1
        row[2] += int(debits_posted)
    t = transfers
    for ledger, count in conn.execute(sa.select(t.c.ledger, sa.func.count()).group_by(t.c.ledger)):
        out.setdefault(ledger, [0, 0, 0])[1] = int(count)
    return {k: (v[0], v[1], v[2]) for k, v in sorted(out.items())}
