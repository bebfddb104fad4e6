"""kill -9 a writer mid-load: every acknowledged transfer is there and `ledger check` holds."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rongpay.ledger import check, service

from .factories import acct, setup_accounts

ROOT = Path(__file__).resolve().parents[2]


def test_kill_9_loses_nothing_acknowledged(db_url, engine):
    setup_accounts(engine, acct("src"), acct("dst"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.ledger.writer_proc",
            db_url,
            "k",
            "100000",
            "200",
            "src",
            "dst",
            "3",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    acked: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while len(acked) < 2_000 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(line.split()[0])
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    acked.extend(line.split()[0] for line in proc.stdout.read().splitlines() if line.strip())
    proc.stdout.close()
    assert len(acked) >= 2_000, "the writer never got going"

    engine.dispose()
    report = check.check(engine)
    assert report.ok, report.as_dict()
    missing = [tid for tid in acked if service.get_transfer(engine, tid) is None]
    assert missing == []
    dst = service.get_account(engine, "dst")
    assert dst is not None and dst.credits_posted == 3 * report.transfers
    assert report.transfers >= len(acked)
