"""Start the simulated outside parties (card issuer, bank) as child processes for `rongpay
serve --sandbox` and `rongpay demo`, and point the gateway at them through its environment
($RONGPAY_ISSUER, $RONGPAY_BANK_URL, $RONGPAY_BANK_SECRET). They stop with the server."""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

from rongpay.cli.common import CliError

READY_TIMEOUT_S = 20.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Sandboxes:
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the server dies, however it
    dies (uvicorn re-raises the signal that stopped it, so no `finally` runs then)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the server's own stop() still applies
        pass


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "rongpay", "sandbox", *args], env=env,
                            stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)  # fmt: skip


def _connects(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), 0.5):
        return True


def _wait(ready: object, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CliError(f"the sandbox {what} exited at start (code {proc.returncode})", 1)
        try:
            if callable(ready) and ready():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise CliError(f"the sandbox {what} did not start within {READY_TIMEOUT_S:.0f} s", 1)


def start() -> Sandboxes:
    issuer_port, bank_port = free_port(), free_port()
    secret = os.environ.get("RONGPAY_BANK_SECRET") or secrets.token_urlsafe(24)
    env = {**os.environ, "RONGPAY_SANDBOX_BANK_SECRET": secret}
    started = Sandboxes()
    try:
        issuer = _spawn(["issuer", "--port", str(issuer_port), "--latency-ms", "20"], env)
        started.processes.append(issuer)
        bank = _spawn(["bank", "--port", str(bank_port), "--latency-ms", "150"], env)
        started.processes.append(bank)
        _wait(lambda: _connects(issuer_port), "issuer", issuer)
        bank_url = f"http://127.0.0.1:{bank_port}"
        _wait(lambda: urllib.request.urlopen(f"{bank_url}/healthz", timeout=0.5).status == 200,
              "bank", bank)  # fmt: skip
    except BaseException:
        started.stop()
        raise
    os.environ["RONGPAY_ISSUER"] = f"127.0.0.1:{issuer_port}"
    os.environ["RONGPAY_BANK_URL"] = bank_url
    os.environ["RONGPAY_BANK_SECRET"] = secret
    print(f"sandbox card issuer (simulated) on 127.0.0.1:{issuer_port}; "
          f"sandbox bank (simulated) on {bank_url}", flush=True)  # fmt: skip
    return started
