"""Many writers on one hot account, threads and processes, on both engines: never
overdrawn, never a lost update, and the invariants hold."""

import subprocess
import sys
import threading
from pathlib import Path

from rongpay.ledger import check, service, writer

from .factories import acct, balances, setup_accounts, submit, xfer

ROOT = Path(__file__).resolve().parents[2]
FUNDS = 50_000


def hot_ledger(engine, funds=FUNDS):
    setup_accounts(
        engine,
        acct("hot", "USD", "wallet", "debits_must_not_exceed_credits"),
        acct("bank"),
        acct("sink"),
    )
    assert submit(engine, xfer("fund", "bank", "hot", funds)) == ["ok"]


def test_threads_race_through_group_commit(engine):
    hot_ledger(engine, 10_000)
    w = writer.LedgerWriter(engine)
    acked: list[int] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for k in range(40):
            raws = [xfer(f"t{n}-{k}-{i}", "hot", "sink", 7 + i) for i in range(5)]
            results = w.submit(service.parse_transfers(raws))
            with lock:
                acked.extend(
                    r["amount"] for r, res in zip(raws, results, strict=True) if res == "ok"
                )
                assert set(results) <= {"ok", "exceeds_credits"}

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    _, debits, _, credits = balances(engine, "hot")
    assert debits == sum(acked)  # nothing lost, nothing counted twice
    assert debits <= credits == 10_000  # never overdrawn
    assert 10_000 - debits < 7 + 4  # and the funds were used up: the race was real
    assert check.check(engine).ok


def test_threads_race_without_the_writer(engine):
    """Direct calls from many threads also serialise on the ledger lock."""
    hot_ledger(engine, 20_000)
    acked: list[int] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for k in range(25):
            res = submit(engine, xfer(f"d{n}-{k}", "hot", "sink", 300))
            with lock:
                acked.extend(300 for r in res if r == "ok")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert balances(engine, "hot")[1] == sum(acked) == 20_000 - 20_000 % 300
    assert check.check(engine).ok


def test_processes_race_on_one_account(db_url, engine):
    hot_ledger(engine)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.ledger.writer_proc",
                db_url,
                f"p{n}",
                "20",
                "10",
                "hot",
                "sink",
                "97",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    acked = [
        line.split()[0] for out in outputs for line in out.splitlines() if line.endswith(" ok")
    ]
    _, debits, _, _ = balances(engine, "hot")
    assert debits == 97 * len(acked) <= FUNDS
    assert len(acked) == FUNDS // 97  # 600 attempts, funds for 515: exactly those went through
    assert check.check(engine).ok
