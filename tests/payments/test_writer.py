"""The payment writer under load: group commit never lets one request fail another, a
wallet never goes below zero however many threads or processes race on it, and a process
killed mid-load loses no acknowledged payment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rongpay.ledger import check, service
from rongpay.ledger.types import CreateTransferResult
from rongpay.payments import accounts, store
from rongpay.payments.errors import PaymentError
from rongpay.payments.wallets import WalletOp
from rongpay.payments.writer import Op, Tx, writer_for
from rongpay.store.uow import unit_of_work

from .factories import gateway, merchant, pay_wallet, wallet_customer

ROOT = Path(__file__).resolve().parents[2]


def _wallet_balance(engine: Any, customer: str, currency: str = "USD") -> int:
    acct = service.get_account(engine, accounts.wallet(False, customer, currency).id)
    assert acct is not None
    return acct.credits_posted - acct.debits_posted


def _statuses(engine: Any) -> dict[str, str]:
    t = store.intents.c
    with unit_of_work(engine, write=False) as conn:
        return {r.id: r.status for r in conn.execute(sa.select(t.id, t.status))}


class Boom(Op[None]):
    """An op that fails with a bug (not a business refusal) after the ledger judged it."""

    keys = ("boom",)

    def finish(self, tx: Tx, results: list[CreateTransferResult]) -> None:
        raise RuntimeError("bug in finish")


def test_a_failing_op_never_fails_its_group(engine: Any) -> None:
    m = merchant(engine)
    people = [wallet_customer(engine, m, 0) for _ in range(20)]
    writer = writer_for(engine)
    futures = []
    for i, cid in enumerate(people):
        futures.append(writer.submit(WalletOp("topup", False, cid, 1000 + i, "USD")))
        if i % 5 == 0:
            futures.append(writer.submit(Boom()))
            futures.append(writer.submit(WalletOp("topup", False, "cus_missing", 5, "USD")))
    outcomes = []
    for f in futures:
        try:
            outcomes.append(f.result(timeout=30))
        except (RuntimeError, PaymentError) as exc:
            outcomes.append(exc)
    assert sum(isinstance(o, RuntimeError) for o in outcomes) == 4
    missing = [o for o in outcomes if isinstance(o, PaymentError)]
    assert len(missing) == 4 and {e.code for e in missing} == {"resource_missing"}
    for i, cid in enumerate(people):
        assert _wallet_balance(engine, cid) == 1000 + i
    assert check.check(engine).ok


def test_threads_racing_on_one_wallet_never_overdraw_it(engine: Any) -> None:
    m = merchant(engine)
    cid = wallet_customer(engine, m, 10_000)
    gw = gateway(engine)
    results: list[Any] = []
    lock = threading.Lock()

    def spend() -> None:
        for _ in range(8):
            out = pay_wallet(gw, m, cid, 700)
            with lock:
                results.append(out)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    succeeded = [r for r in results if r.intent.status == "succeeded"]
    assert len(results) == 64
    assert len(succeeded) == 10_000 // 700  # 14 fit, 50 are refused for the balance
    refused = [r for r in results if r.intent.status == "requires_payment_method"]
    assert {r.intent.last_payment_error["code"] for r in refused} == {"balance_insufficient"}
    assert _wallet_balance(engine, cid) == 10_000 - 14 * 700
    merchant_acct = service.get_account(engine, accounts.merchant(False, m, "USD").id)
    assert merchant_acct is not None
    fees = sum(r.intent.fee for r in succeeded)
    assert merchant_acct.credits_posted - merchant_acct.debits_posted == 14 * 700 - fees
    assert check.check(engine).ok


def _spawn(db_url: str, m: str, cid: str, amount: int, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.payments.wallet_proc", db_url, m, cid, str(amount),
         str(count)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_processes_racing_on_one_wallet_never_overdraw_it(db_url: str, engine: Any) -> None:
    m = merchant(engine)
    cid = wallet_customer(engine, m, 5_000)
    procs = [_spawn(db_url, m, cid, 300, 10) for _ in range(3)]
    lines: list[str] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        lines.extend(out.split("\n"))
    done = [line.split() for line in lines if line.strip()]
    assert len(done) == 30
    succeeded = [pi for pi, status in done if status == "succeeded"]
    assert len(succeeded) == 5_000 // 300
    assert _wallet_balance(engine, cid) == 5_000 - 16 * 300
    statuses = _statuses(engine)
    assert all(statuses[pi] == "succeeded" for pi in succeeded)
    assert check.check(engine).ok


@pytest.mark.slow
def test_kill_9_mid_load_loses_no_acknowledged_payment(db_url: str, engine: Any) -> None:
    m = merchant(engine)
    cid = wallet_customer(engine, m, 10_000_000)
    proc = _spawn(db_url, m, cid, 100, 100_000)
    acked: list[tuple[str, str]] = []  # (intent, status) as the payer was told
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while len(acked) < 150 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(tuple(line.split()))  # type: ignore[arg-type]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    acked.extend(tuple(line.split()) for line in proc.stdout.read().splitlines() if line.strip())  # type: ignore[misc]
    proc.stdout.close()
    assert len(acked) >= 150, "the payer never got going"
    engine.dispose()
    assert check.check(engine).ok
    statuses = _statuses(engine)
    assert [(pi, told, statuses.get(pi)) for pi, told in acked if statuses.get(pi) != told] == []
    assert all(told == "succeeded" for _, told in acked)
    succeeded = sum(1 for s in statuses.values() if s == "succeeded")
    assert _wallet_balance(engine, cid) == 10_000_000 - 100 * succeeded
