"""`rongpay bench payments`: a tiny real run (payments succeed, the ledger balances, every
process is stopped) and the pieces of its HTTP client. No timing is ever a pass condition."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rongpay.cli import bench_http, bench_payments, main
from rongpay.cli.common import CliError

SMALL = ["bench", "payments", "--payments", "24", "--concurrency", "4", "--customers", "3",
         "--warmup", "2", "--issuer-latency-ms", "1"]  # fmt: skip


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """Record every process the bench starts and put its scratch directory where we see it."""
    seen: dict[str, Any] = {"procs": [], "dir": tmp_path / "scratch"}
    real_spawn = bench_payments.Stack._spawn

    def spawn(self: bench_payments.Stack, name: str, argv: list[str], env: dict[str, str]) -> Any:
        proc = real_spawn(self, name, argv, env)
        seen["procs"].append(proc)
        return proc

    def scratch() -> Path:
        seen["dir"].mkdir()
        return Path(seen["dir"])

    monkeypatch.setattr(bench_payments.Stack, "_spawn", spawn)
    monkeypatch.setattr(bench_payments, "scratch_dir", scratch)
    return seen


def test_small_run_pays_balances_and_cleans_up(
    spawned: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*SMALL, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"noop", "wallet", "card", "target", "ledger_check", "config"}
    for name in ("noop", "wallet", "card"):
        phase = report[name]
        assert phase["requests"] == 24 and phase["ok"] == 24 and phase["errors"] == {}
        for key in ("seconds", "per_s", "p50_ms", "p99_ms", "client_cpu_us_per_request"):
            assert phase[key] > 0, key
        # whole clock ticks (10 ms) of CPU: a tiny phase may use less than one
        assert phase["server_cpu_us_per_request"] >= 0 <= phase["issuer_cpu_us_per_request"]
        assert phase["p50_ms"] <= phase["p99_ms"] <= phase["max_ms"]
    assert report["noop"]["endpoint"] == "POST /v1/ping"
    assert report["wallet"]["succeeded"] == 24 and report["card"]["succeeded"] == 24
    assert report["wallet"]["ratio_to_floor"] > 0 and report["card"]["ratio_to_floor"] > 0
    assert report["ledger_check"]["ok"] is True
    assert report["ledger_check"]["transfers"] >= 48  # every payment moved money
    assert set(report["target"]["met"]) == {"wallet", "card"}
    assert report["config"]["issuer_latency_ms"] == 1.0
    assert len(spawned["procs"]) == 2 and all(p.poll() is not None for p in spawned["procs"])
    assert not spawned["dir"].exists()


def test_text_report_names_every_phase(
    spawned: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    live = tmp_path / "live" / "rongpay.db"
    live.parent.mkdir()
    assert main([*SMALL, "--phases", "noop,wallet", "--db", f"sqlite:///{live}"]) == 0
    assert list(live.parent.iterdir()) == []  # ran on a scratch file beside it, now gone
    out = capsys.readouterr().out
    assert "issuer latency 1.0 ms (simulated)" in out
    assert "  noop " in out and "  wallet " in out and "  card " not in out
    assert "ledger check: OK" in out and "floor: POST /v1/ping" in out
    assert all(p.poll() is not None for p in spawned["procs"])


def test_a_failure_midway_still_stops_everything(
    spawned: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken_seed(*args: object) -> None:
        raise CliError("seeding failed: POST /v1/merchants answered 500", 1)

    monkeypatch.setattr(bench_payments, "_seed", broken_seed)
    assert main(SMALL) == 1
    assert "seeding failed" in capsys.readouterr().err
    assert len(spawned["procs"]) == 2 and all(p.poll() is not None for p in spawned["procs"])
    assert not spawned["dir"].exists()


def test_sigterm_stops_everything_it_started(tmp_path: Path) -> None:
    """`timeout` and CI runners send SIGTERM: the server and issuer go, the scratch goes."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "rongpay", *SMALL[:-2], "--payments", "100000"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    assert proc.stderr is not None
    pids, line = [], ""
    try:
        while "phase noop" not in line:
            line = proc.stderr.readline()
            assert line, "the bench ended before its first phase"
            pids += [int(p) for p in re.findall(r" pid (\d+) ", line)]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert len(pids) == 2
    for pid in pids:  # stopped and reaped by the bench: no such process any more
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "extra", [["--phases", "noop,refund"], ["--payments", "0"], ["--issuer-latency-ms", "x"]]
)
def test_bad_options_are_messages(extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(["bench", "payments", *extra])
    except SystemExit as exc:  # argparse refuses types itself
        code = int(exc.code or 0)
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_bad_databases_are_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SMALL, "--db", "mysql://x/y"]) == 2
    assert "unsupported database URL" in capsys.readouterr().err
    assert main([*SMALL, "--db", f"sqlite:///{tmp_path}/no/such/x.db"]) == 2
    assert "cannot make a scratch database beside --db" in capsys.readouterr().err
    assert main([*SMALL, "--db", "postgresql://nobody@127.0.0.1:1/none"]) == 1
    assert "cannot open the database" in capsys.readouterr().err


def test_parse_head() -> None:
    head = b"HTTP/1.1 402 Payment Required\r\ncontent-length: 17\r\nserver: x\r\n\r\n"
    assert bench_http.parse_head(head) == (402, 17, False)
    assert bench_http.parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n") == (200, 0, True)  # fmt: skip
    for bad in (b"SSH-2.0\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"):  # fmt: skip
        with pytest.raises(bench_http.HttpError):
            bench_http.parse_head(bad)


def test_error_key_and_percentile() -> None:
    assert bench_http.error_key(402, b'{"error": {"code": "card_declined"}}') == "402 card_declined"
    assert bench_http.error_key(502, b"<html>") == "502"
    values = [float(v) for v in range(1, 101)]
    assert bench_http.percentile(values, 0.5) == 50.0
    assert bench_http.percentile(values, 0.99) == 99.0
    assert bench_http.percentile([], 0.99) == 0.0


def test_luhn_cards_are_distinct_and_valid() -> None:
    from rongpay.security.cards import luhn_ok

    pans = {bench_payments.luhn_pan("424242", 100_000 + n) for n in range(200)}
    assert len(pans) == 200 and all(len(p) == 16 and luhn_ok(p) for p in pans)


def test_client_reads_keep_alive_answers() -> None:
    """Two requests on one connection against a tiny server that answers with a length."""

    async def scenario() -> list[tuple[int, bytes]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for _ in range(2):
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = bench_http.Connection("127.0.0.1", port)
        spec = bench_http.PhaseSpec("t", "127.0.0.1", port, "GET", "/", "", (), 2, 1)
        try:
            return [await conn.send(bench_http.request_head(spec, i, b"")) for i in range(2)]
        finally:
            await conn.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(scenario()) == [(200, b"ok"), (200, b"ok")]


def test_a_silent_server_is_a_timeout_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_http, "REQUEST_TIMEOUT_S", 0.2)

    async def scenario() -> BaseException | None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # reads and never answers
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        conn = bench_http.Connection("127.0.0.1", port)
        spec = bench_http.PhaseSpec("t", "127.0.0.1", port, "GET", "/", "", (), 1, 1)
        try:
            await conn.send(bench_http.request_head(spec, 0, b""))
        except OSError as exc:
            return exc
        finally:
            await conn.close()
            server.close()
            await server.wait_closed()
        return None

    assert isinstance(asyncio.run(scenario()), TimeoutError)
