"""`rongpay ledger check`: prove the ledger's invariants on a live database.

1. Per ledger, total debits posted equal total credits posted (and pending likewise).
2. Every account's four balances equal the sums of its transfers.
3. No account breaks its debits/credits limit flag; no balance is negative.
4. No transfer changed after commit: the SHA-256 chain over every batch is recomputed from
   the rows and compared with the digests written at commit time.
5. Every transfer names existing accounts of its own ledger; every pending transfer has
   its state row, and every post/void names a pending transfer.
Reads run in one snapshot, so a check on a busy ledger sees one consistent moment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rongpay.ledger import service, store
from rongpay.ledger.types import (
    A_CREDITS_LIMIT,
    A_DEBITS_LIMIT,
    T_PENDING,
    T_POST,
    T_VOID,
    Transfer,
)
from rongpay.store.uow import unit_of_work

MAX_PROBLEMS = 50  # per invariant, listed in full; the count says how many more
STREAM_ROWS = 10_000


@dataclass(slots=True)
class Invariant:
    name: str
    problems: list[str] = field(default_factory=list)
    count: int = 0

    def fail(self, problem: str) -> None:
        self.count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    @property
    def ok(self) -> bool:
        return self.count == 0


@dataclass(slots=True)
class Report:
    accounts: int
    transfers: int
    batches: int
    ledgers: dict[str, dict[str, int]]
    invariants: list[Invariant]

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.invariants)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "accounts": self.accounts,
            "transfers": self.transfers,
            "batches": self.batches,
            "ledgers": self.ledgers,
            "invariants": [
                {"name": i.name, "ok": i.ok, "violations": i.count, "problems": i.problems}
                for i in self.invariants
            ],
        }


def check(engine: Engine) -> Report:
    """Check every invariant in one read snapshot (REPEATABLE READ on PostgreSQL)."""
    with unit_of_work(engine, write=False, isolation="REPEATABLE READ") as conn:
        return _check(conn)


def _check(conn: Connection) -> Report:
    accounts = {
        r[0]: r for r in conn.execute(sa.text(f"SELECT {store.ACCOUNT_COLS} FROM ledger_accounts"))
    }
    sums, refs = _transfer_sums(conn, accounts)
    balanced = Invariant("debits_equal_credits")
    ledgers = _ledger_totals(accounts, balanced)
    matching = Invariant("balances_match_transfers")
    limits = Invariant("limits_respected")
    for aid, row in accounts.items():
        _check_account(aid, row, sums.get(aid, (0, 0, 0, 0)), matching, limits)
    for aid in sums.keys() - accounts.keys():
        matching.fail(f"transfers name account {aid}, which does not exist")
    chain, transfers, batches = _check_digests(conn)
    return Report(
        len(accounts), transfers, batches, ledgers, [balanced, matching, limits, chain, refs]
    )


def _ledger_totals(accounts: dict[str, Any], inv: Invariant) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in accounts.values():
        t = totals[row[1]]
        t["accounts"] += 1
        for name, value in zip(
            ("debits_pending", "debits_posted", "credits_pending", "credits_posted"),
            row[5:9],
            strict=True,
        ):
            t[name] += int(value)
    for ledger, t in sorted(totals.items()):
        if t["debits_posted"] != t["credits_posted"]:
            inv.fail(
                f"{ledger}: debits posted {t['debits_posted']} != credits posted "
                f"{t['credits_posted']}"
            )
        if t["debits_pending"] != t["credits_pending"]:
            inv.fail(
                f"{ledger}: debits pending {t['debits_pending']} != credits pending "
                f"{t['credits_pending']}"
            )
    return {k: dict(v) for k, v in sorted(totals.items())}


def _transfer_sums(
    conn: Connection, accounts: dict[str, Any]
) -> tuple[dict[str, tuple[int, int, int, int]], Invariant]:
    """Per account (debits_pending, debits_posted, credits_pending, credits_posted) from the
    transfers, and the referential invariant."""
    refs = Invariant("transfers_well_formed")
    states: dict[str, str] = {
        r[0]: r[1] for r in conn.execute(sa.text("SELECT id, state FROM ledger_pending"))
    }
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    resolved: dict[str, int] = defaultdict(int)
    for t in _stream(conn):
        for aid in (t.debit_account_id, t.credit_account_id):
            acct = accounts.get(aid)
            if acct is not None and acct[1] != t.ledger:
                refs.fail(
                    f"transfer {t.id} on ledger {t.ledger} touches account {aid} of {acct[1]}"
                )
        if t.flags & T_PENDING:
            if t.id not in states:
                refs.fail(f"pending transfer {t.id} has no pending state")
            if states.get(t.id) == "pending":
                sums[t.debit_account_id][0] += t.amount
                sums[t.credit_account_id][2] += t.amount
            continue
        if t.flags & (T_POST | T_VOID):
            resolved[t.pending_id or ""] += 1
            if states.get(t.pending_id or "", "") not in ("posted", "voided"):
                refs.fail(
                    f"transfer {t.id} resolves {t.pending_id}, not a resolved pending transfer"
                )
            if t.flags & T_VOID:
                continue
        sums[t.debit_account_id][1] += t.amount
        sums[t.credit_account_id][3] += t.amount
    for pid, n in resolved.items():
        if n > 1:
            refs.fail(f"pending transfer {pid} was resolved {n} times")
    return {k: (v[0], v[1], v[2], v[3]) for k, v in sums.items()}, refs


def _check_account(
    aid: str, row: Any, expected: tuple[int, int, int, int], matching: Invariant, limits: Invariant
) -> None:
    dp, dpo, cp, cpo = (int(x) for x in row[5:9])
    if (dp, dpo, cp, cpo) != expected:
        matching.fail(
            f"account {aid}: balances (dp={dp}, dpo={dpo}, cp={cp}, cpo={cpo}) but its "
            f"transfers sum to (dp={expected[0]}, dpo={expected[1]}, cp={expected[2]}, "
            f"cpo={expected[3]})"
        )
    if min(dp, dpo, cp, cpo) < 0:
        limits.fail(f"account {aid}: negative balance")
    flags = int(row[3])
    if flags & A_DEBITS_LIMIT and dp + dpo > cpo:
        limits.fail(f"account {aid}: debits {dp + dpo} exceed credits {cpo}")
    if flags & A_CREDITS_LIMIT and cp + cpo > dpo:
        limits.fail(f"account {aid}: credits {cp + cpo} exceed debits {dpo}")


def _stream(conn: Connection, lo: int | None = None, hi: int | None = None) -> Any:
    sql = f"SELECT {store.TRANSFER_COLS} FROM ledger_transfers"
    params: dict[str, int] = {}
    if lo is not None and hi is not None:
        sql += " WHERE timestamp BETWEEN :lo AND :hi"
        params = {"lo": lo, "hi": hi}
    result = conn.execution_options(yield_per=STREAM_ROWS).execute(
        sa.text(sql + " ORDER BY timestamp"), params
    )
    for row in result:
        yield Transfer(*row)


def _check_digests(conn: Connection) -> tuple[Invariant, int, int]:
    """Recompute the batch digest chain from the rows; every transfer must be in a batch."""
    inv = Invariant("transfers_unchanged")
    batches = conn.execute(
        sa.text(
            "SELECT seq, first_timestamp, last_timestamp, count, digest FROM ledger_batches "
            "ORDER BY seq"
        )
    ).all()
    digest, seen = "0" * 64, 0
    for seq, lo, hi, count, stored in batches:
        rows = [(*t[:10], t.timestamp) for t in _stream(conn, lo, hi)]
        seen += len(rows)
        if len(rows) != count:
            inv.fail(f"batch {seq}: {len(rows)} transfers found, {count} committed")
        digest = service.batch_digest(digest, rows)
        if digest != stored:
            inv.fail(f"batch {seq}: transfers changed since commit (digest mismatch)")
            digest = stored  # judge later batches on their own
    total = int(conn.execute(sa.text("SELECT COUNT(*) FROM ledger_transfers")).scalar_one())
    if total != seen:
        inv.fail(f"{total - seen} transfers are outside every committed batch")
    meta_digest = conn.execute(
        sa.text("SELECT last_digest FROM ledger_meta WHERE id = 1")
    ).scalar_one()
    if batches and meta_digest != batches[-1][4]:
        inv.fail("the last batch digest does not match the ledger head")
    return inv, total, len(batches)
