"""`rongpay bench ledger`: the batch engine beside a naive baseline, on the same data.

Baseline: one database transaction per transfer (read both accounts, check, insert, update
both), the way a straightforward ORM service would do it. Both run with durable settings
(SQLite WAL + synchronous=FULL; PostgreSQL with synchronous_commit on), each on a fresh,
throw-away database (a temporary file beside the given SQLite path, or a temporary schema
in the given PostgreSQL database), so a live ledger is never touched.
"""

from __future__ import annotations

import gc
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.ledger import service
from rongpay.ledger.types import MAX_BATCH
from rongpay.store import engine as store_engine
from rongpay.store.uow import unit_of_work

BASELINE_MAX = 5_000  # the baseline is slow by design: it runs on the first transfers only
LEDGER = "USD"


@dataclass(frozen=True, slots=True)
class BenchResult:
    engine: str
    transfers: int
    accounts: int
    hot: float
    batch_size: int
    transfers_per_s: float
    baseline_transfers: int
    baseline_transfers_per_s: float
    ratio: float
    batch_latency_ms_p50: float
    batch_latency_ms_p99: float
    ok_results: int
    elapsed_s: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def make_transfers(n: int, accounts: int, hot: float, seed: int) -> list[dict[str, object]]:
    """N random transfers between `accounts` accounts; a share `hot` touches account 1."""
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for i in range(n):
        debit = rng.randint(1, accounts)
        credit = rng.randint(1, accounts)
        if rng.random() < hot:
            if rng.random() < 0.5:
                debit = 1
            else:
                credit = 1
        while credit == debit:
            credit = rng.randint(1, accounts)
        out.append(
            {
                "id": 1_000_000 + i,
                "debit_account_id": debit,
                "credit_account_id": credit,
                "amount": rng.randint(1, 10_000),
                "ledger": LEDGER,
                "code": "bench",
            }
        )
    return out


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A throw-away database on the same engine (and disk) as URL."""
    url = store_engine.normalise_url(url)
    if url.startswith("sqlite"):
        given = url.removeprefix("sqlite:///")
        folder = Path(given).expanduser().resolve().parent if given else Path.cwd()
        with tempfile.TemporaryDirectory(prefix="rongpay-bench-", dir=folder) as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    schema = f"rongpay_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    scratch = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield scratch.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def _open(url: str, accounts: int) -> Engine:
    engine = store_engine.create(url)
    for start in range(1, accounts + 1, MAX_BATCH):
        stop = min(start + MAX_BATCH, accounts + 1)
        results = service.create_accounts(
            engine, [{"id": i, "ledger": LEDGER, "code": "bench"} for i in range(start, stop)]
        )
        assert all(r == "ok" for r in results), "fresh accounts"
    return engine


def run_batched(
    engine: Engine, raws: list[dict[str, object]], batch_size: int
) -> tuple[float, list[float], int]:
    """Seconds for the batch engine (parse + judge + one transaction per batch)."""
    latencies, ok = [], 0
    started = time.perf_counter()
    for i in range(0, len(raws), batch_size):
        t0 = time.perf_counter()
        items = service.parse_transfers(raws[i : i + batch_size])
        (results,) = service.create_transfers(engine, [items])
        latencies.append((time.perf_counter() - t0) * 1000)
        ok += sum(1 for r in results if r == "ok")
    return time.perf_counter() - started, latencies, ok


def run_baseline(engine: Engine, raws: list[dict[str, object]]) -> float:
    """Seconds for one transaction per transfer: read, check, insert, update."""
    pg = engine.dialect.name == "postgresql"
    lock = " FOR UPDATE" if pg else ""
    started = time.perf_counter()
    ts = time.time_ns()
    for n, t in enumerate(raws):
        with unit_of_work(engine) as conn:
            ids = sorted((str(t["debit_account_id"]), str(t["credit_account_id"])))
            rows = conn.execute(
                sa.text(
                    f"SELECT id, debits_posted, credits_posted FROM ledger_accounts "
                    f"WHERE id IN (:a, :b) ORDER BY id{lock}"
                ),
                {"a": ids[0], "b": ids[1]},
            ).all()
            assert len(rows) == 2
            conn.execute(
                sa.text(
                    "INSERT INTO ledger_transfers (timestamp, id, debit_account_id, "
                    "credit_account_id, amount, ledger, code, flags, timeout) "
                    "VALUES (:ts, :id, :d, :c, :amt, :l, 'bench', 0, 0)"
                ),
                {
                    "ts": ts + n,
                    "id": str(t["id"]),
                    "d": str(t["debit_account_id"]),
                    "c": str(t["credit_account_id"]),
                    "amt": t["amount"],
                    "l": LEDGER,
                },
            )
            for aid, col in (
                (t["debit_account_id"], "debits_posted"),
                (t["credit_account_id"], "credits_posted"),
            ):
                conn.execute(
                    sa.text(f"UPDATE ledger_accounts SET {col} = {col} + :amt WHERE id = :id"),
                    {"amt": t["amount"], "id": str(aid)},
                )
    return time.perf_counter() - started


def bench(
    url: str,
    *,
    transfers: int,
    accounts: int,
    hot: float,
    batch_size: int = MAX_BATCH,
    seed: int = 1,
) -> BenchResult:
    """Run both engines on the same generated transfers and compare."""
    assert accounts >= 2 and transfers >= 1 and 0.0 <= hot <= 1.0
    raws = make_transfers(transfers, accounts, hot, seed)
    # The generated input is the harness's, not the engine's: keep the cyclic garbage
    # collector from rescanning it on every collection (gc.freeze), as a server does with
    # what it loads at start-up. Both runs get the same treatment.
    gc.collect()
    gc.freeze()
    try:
        return _measure(url, raws, transfers, accounts, hot, batch_size)
    finally:
        gc.unfreeze()


def _measure(
    url: str,
    raws: list[dict[str, object]],
    transfers: int,
    accounts: int,
    hot: float,
    batch_size: int,
) -> BenchResult:
    with scratch_database(url) as scratch:
        engine = _open(scratch, accounts)
        elapsed, latencies, ok = run_batched(engine, raws, batch_size)
        name = engine.dialect.name
        engine.dispose()
    base_n = min(transfers, BASELINE_MAX)
    with scratch_database(url) as scratch:
        engine = _open(scratch, accounts)
        base_elapsed = run_baseline(engine, raws[:base_n])
        engine.dispose()
    rate, base_rate = transfers / elapsed, base_n / base_elapsed
    lat = sorted(latencies)
    return BenchResult(
        engine=name,
        transfers=transfers,
        accounts=accounts,
        hot=hot,
        batch_size=batch_size,
        transfers_per_s=round(rate, 1),
        baseline_transfers=base_n,
        baseline_transfers_per_s=round(base_rate, 1),
        ratio=round(rate / base_rate, 2),
        batch_latency_ms_p50=round(statistics.median(lat), 2),
        batch_latency_ms_p99=round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
        ok_results=ok,
        elapsed_s=round(elapsed, 3),
    )


__all__ = ["BenchResult", "bench"]
