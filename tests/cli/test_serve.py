"""`rongpay serve` and `rongpay demo`: a real server answers; bad input gets a message."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rongpay.cli import main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_healthy(base: str, proc: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 60  # a bound on waiting, not a pass condition
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited early"
        try:
            return httpx.get(f"{base}/healthz", timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


def test_serve_answers_healthz_and_prints_a_working_admin_key(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RONGPAY_ADMIN_KEY", "RONGPAY_DB")}
    cmd = [sys.executable, "-m", "rongpay", "serve", "--db", str(tmp_path / "s.db"),
           "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        key = ""
        for _ in range(5):
            line = proc.stdout.readline()
            found = re.search(r"Admin key .*: (\S+)$", line.strip())
            if found:
                key = found.group(1)
                break
        assert key.startswith("rk_admin_")
        base = f"http://127.0.0.1:{port}"
        r = _wait_healthy(base, proc)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        auth = {"Authorization": f"Bearer {key}"}
        missing = httpx.get(f"{base}/v1/ledger/accounts/1", headers=auth, timeout=5)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"
        denied = httpx.get(f"{base}/v1/ledger/accounts/1", timeout=5)
        assert denied.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()


def test_bad_database_url_is_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--db", "mysql://x/y"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rongpay: unsupported database URL") and "Traceback" not in err
    assert main(["demo", "--no-serve", "--db", "postgresql://nobody@127.0.0.1:1/none"]) == 1
    assert "cannot open the database" in capsys.readouterr().err


def test_missing_directory_is_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--db", str(tmp_path / "no" / "such" / "dir.db")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_busy_port_is_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["serve", "--db", str(tmp_path / "b.db"), "--port", str(port)])
    assert code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in capsys.readouterr().err
    assert main(["serve", "--db", str(tmp_path / "b.db"), "--port", "70000"]) == 2


def test_demo_no_serve_twice(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-serve", "--db", db_url]) == 0
    first = capsys.readouterr().out
    assert "Seeded 28 accounts and 43 transfers." in first
    assert "curl http://127.0.0.1:8000/healthz" in first
    assert main(["demo", "--no-serve", "--db", db_url]) == 0
    assert "already there" in capsys.readouterr().out
