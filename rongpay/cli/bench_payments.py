"""`rongpay bench payments`: the HTTP API under load, beside a no-op floor on the same server.

The bench is a client of the real thing, not of library calls: it starts a scratch database,
the SIMULATED card issuer and `rongpay serve` as subprocesses, seeds one merchant and wallet
customers over the API, then drives three phases with concurrent keep-alive clients from a
process of its own (bench_http.py): the no-op floor (what the web stack alone costs), wallet
payments and card payments (create + confirm in one call, each with its own Idempotency-Key).
After the run `rongpay ledger check` proves the books still balance. Every process it started
is stopped, and the scratch directory removed, on success, error and Ctrl-C alike.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rongpay.cli.common import CliError, positive_int

TARGET_WALLET_PER_S = 1000
TARGET_WALLET_P99_MS = 50
TARGET_CARD_PER_S = 500
AMOUNT_MINOR = 500
CURRENCY = "usd"
MAX_CUSTOMERS = 100_000


@dataclass(frozen=True, slots=True)
class BenchConfig:
    payments: int
    concurrency: int
    customers: int
    issuer_latency_ms: float
    workers: int
    warmup: int
    db: str | None
    phases: tuple[str, ...]


def register(commands: Any, bench: Any) -> None:
    """Add `bench payments`."""
    del commands
    p = bench.add_parser(
        "payments",
        help="HTTP API throughput and latency: wallet and card payments beside a no-op floor",
        description="Start a scratch database, the simulated card issuer and the server, seed "
        "a merchant and wallet customers, then drive each phase with concurrent keep-alive "
        "clients and print throughput, p50 and p99. `rongpay ledger check` runs at the end.",
    )
    p.add_argument("--payments", type=positive_int, default=10_000, metavar="N",
                   help="requests per phase (default 10000)")  # fmt: skip
    p.add_argument("--concurrency", type=positive_int, default=32, metavar="C",
                   help="clients, one keep-alive connection each (default 32)")  # fmt: skip
    p.add_argument("--customers", type=positive_int, default=1000, metavar="M",
                   help="wallet customers the payments are spread over (default 1000)")  # fmt: skip
    p.add_argument("--issuer-latency-ms", type=_latency, default=5.0, metavar="MS",
                   help="median answer time of the simulated issuer (default 5)")  # fmt: skip
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="server worker processes (`rongpay serve --workers`)")  # fmt: skip
    p.add_argument("--warmup", type=int, default=200, metavar="N",
                   help="untimed requests before each phase (default 200)")  # fmt: skip
    p.add_argument("--phases", default="noop,wallet,card",
                   help="comma-separated subset of noop,wallet,card")  # fmt: skip
    p.add_argument("--db", metavar="URL", default=None,
                   help="use a scratch file or schema beside this database")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_bench)


def _latency(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if not 0.0 <= value <= 10_000.0:
        raise argparse.ArgumentTypeError(f"{text} must be between 0 and 10000 ms")
    return value


def _config(args: argparse.Namespace) -> BenchConfig:
    phases = tuple(p.strip() for p in str(args.phases).split(",") if p.strip())
    unknown = [p for p in phases if p not in ("noop", "wallet", "card")]
    if unknown or not phases:
        raise CliError(f"--phases takes noop, wallet and/or card, not {args.phases!r}")
    if not 0 <= args.warmup <= 100_000:
        raise CliError("--warmup must be between 0 and 100000")
    if args.customers > MAX_CUSTOMERS:
        raise CliError(f"--customers must be at most {MAX_CUSTOMERS}")
    return BenchConfig(payments=args.payments, concurrency=args.concurrency,
                       customers=args.customers, issuer_latency_ms=args.issuer_latency_ms,
                       workers=args.workers, warmup=args.warmup, db=args.db,
                       phases=phases)  # fmt: skip


def cmd_bench(args: argparse.Namespace) -> int:
    config = _config(args)
    say = _quiet if args.json else _progress
    restore = _stop_on_sigterm()
    try:
        report = run_bench(config, say)
    finally:
        restore()
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0 if report["ledger_check"]["ok"] else 1


def _stop_on_sigterm() -> Any:
    """SIGTERM (`timeout`, a CI runner, `kill`) unwinds like Ctrl-C, so the processes the
    bench started are stopped and its scratch files removed; Python's default would just die.
    Returns the function that puts the previous handler back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    fired: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if not fired:  # a second SIGTERM must not break off the clean-up
            fired.append(signum)
            raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _progress(text: str) -> None:
    print(f"  .. {text}", file=sys.stderr, flush=True)


def _quiet(text: str) -> None:
    del text


def print_report(report: dict[str, Any]) -> None:
    cfg = report["config"]
    print(f"payments benchmark: {cfg['database']}, {cfg['workers']} server worker(s), "
          f"{cfg['concurrency']} clients, issuer latency {cfg['issuer_latency_ms']} ms "
          f"(simulated), {cfg['cpus']} CPUs, load {report['machine']['load_before']} before / "
          f"{report['machine']['load_after']} after")  # fmt: skip
    print(f"  {'phase':7} {'requests':>8} {'seconds':>8} {'per_s':>8} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'2xx ok':>7} {'succeed':>7} {'x floor':>7} {'server us':>9} "
          f"{'client us':>9}  errors")  # fmt: skip
    for name in ("noop", "wallet", "card"):
        row = report.get(name)
        if row is None:
            continue
        if "skipped" in row:
            print(f"  {name:7} skipped: {row['skipped']}")
            continue
        errors = ", ".join(f"{k} x{v}" for k, v in row["errors"].items()) or "none"
        ratio = row.get("ratio_to_floor")
        print(f"  {name:7} {row['requests']:>8} {row['seconds']:>8.2f} {row['per_s']:>8.0f} "
              f"{row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['ok']:>7} "
              f"{'-' if name == 'noop' else row['succeeded']:>7} "
              f"{'-' if ratio is None else f'{ratio:.2f}':>7} "
              f"{row.get('server_cpu_us_per_request', 0):>9.0f} "
              f"{row['client_cpu_us_per_request']:>9.0f}  {errors}")  # fmt: skip
    if "noop" in report and "endpoint" in report["noop"]:
        print(f"  floor: {report['noop']['endpoint']}; server us and client us: CPU time per "
              "request of the server process(es) and of the load generator")  # fmt: skip
    check = report["ledger_check"]
    print(f"  ledger check: {'OK' if check['ok'] else 'BROKEN'} ({check.get('accounts', '?')} "
          f"accounts, {check.get('transfers', '?')} transfers)")  # fmt: skip
    target = report["target"]
    for name, met in target["met"].items():
        print(f"  target {name}: {target['text'][name]}: {'met' if met else 'NOT met'}")


def new_vault_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="rongpay-bench-"))


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def machine_load() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return -1.0


# -- processes ------------------------------------------------------------------------------


class Stack:
    """The processes of one run, stopped (and the scratch directory removed) on close."""

    def __init__(self, config: BenchConfig, say: Any, db_url: str) -> None:
        self.config = config
        self.say = say
        self.dir = scratch_dir()
        self.procs: list[Any] = []
        self.admin_key = "rk_admin_" + secrets.token_urlsafe(24)
        self.db_url = db_url  # may hold a password: passed by environment, never printed
        self.base: tuple[str, int] = ("127.0.0.1", 0)
        self.server: Any = None

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        while self.procs:
            stop_process(self.procs.pop())
        remove_dir(self.dir)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Any:
        """`rongpay ARGV` with stderr to NAME.log; stdout is read only for the issuer's first
        line (its port), so every other process writes it to the log too (a pipe nobody
        reads would block it once full)."""
        import subprocess

        log = (self.dir / f"{name}.log").open("wb")
        out = subprocess.PIPE if name == "issuer" else log
        try:
            proc = subprocess.Popen([sys.executable, "-m", "rongpay", *argv], env=env,
                                    stdout=out, stderr=log)  # fmt: skip
        finally:
            log.close()
        self.procs.append(proc)
        return proc

    def log_tail(self, name: str, lines: int = 5) -> str:
        try:
            text = (self.dir / f"{name}.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def start_issuer(self) -> str:
        argv = ["sandbox", "issuer", "--port", "0", "--latency-ms",
                str(self.config.issuer_latency_ms), "--balance-minor", str(10**15),
                "--seed", "1"]  # fmt: skip
        proc = self._spawn("issuer", argv, dict(os.environ))
        line = read_line(proc, timeout_s=60.0)
        host_port = line.rsplit(" ", 1)[-1].strip() if "listening on" in line else ""
        if not host_port:
            raise CliError(f"the sandbox issuer did not start: {self.log_tail('issuer')}", 1)
        self.say(f"sandbox issuer (simulated) pid {proc.pid} on {host_port}")
        return host_port

    def start_server(self, issuer: str) -> None:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("RONGPAY_DB",
               "RONGPAY_VAULT_KEY_FILE", "RONGPAY_BASE_URL")}  # fmt: skip
        env.update(RONGPAY_ADMIN_KEY=self.admin_key, RONGPAY_ISSUER=issuer,
                   RONGPAY_VAULT_KEY=new_vault_key(), RONGPAY_DB=self.db_url)  # fmt: skip
        argv = ["serve", "--port", str(port)]
        if self.config.workers > 1:
            argv += ["--workers", str(self.config.workers)]
        self.server = self._spawn("server", argv, env)
        self.base = ("127.0.0.1", port)
        wait_healthy(self, timeout_s=120.0)
        self.say(f"server pid {self.server.pid} on 127.0.0.1:{port} ({engine_name(self.db_url)})")

    def pids(self) -> dict[str, int]:
        """The processes whose CPU time each phase reports (server and issuer)."""
        issuer = [p for p in self.procs if p is not self.server]
        found = {"server": self.server.pid} if self.server is not None else {}
        return {**found, "issuer": issuer[0].pid} if issuer else found

    def stop_server(self) -> None:
        if self.server is not None and self.server in self.procs:
            self.procs.remove(self.server)
            stop_process(self.server)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of PID and its child processes (server workers), from /proc;
    0.0 where /proc is missing (the figure is then absent, not wrong: it reads 0)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return 0.0
    for entry in entries:
        try:
            stat = Path(f"/proc/{entry}/stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if int(entry) == pid or (len(fields) > 13 and fields[1] == str(pid)):
            total += int(fields[11]) + int(fields[12])
    return total / ticks


@contextmanager
def scratch_database(db: str | None) -> Iterator[str]:
    """A throw-away database on the engine and disk --db names (a temporary SQLite file
    beside it, or a temporary PostgreSQL schema; default: a SQLite file in the temp folder),
    dropped afterwards, as `rongpay bench ledger` does: a live database is never written."""
    from sqlalchemy.exc import DBAPIError

    from rongpay.ledger.bench import scratch_database as ledger_scratch
    from rongpay.store import engine as store_engine

    with ExitStack() as cleanup:
        try:
            url = store_engine.database_url(db or f"sqlite:///{tempfile.gettempdir()}/bench.db")
            inside = cleanup.enter_context(ledger_scratch(url))
        except store_engine.DatabaseUrlError as exc:
            raise CliError(str(exc)) from None
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise CliError(f"cannot open the database: {reason}", 1) from None
        except OSError as exc:  # the folder of a SQLite --db is missing or read-only
            raise CliError(f"cannot make a scratch database beside --db: {exc.strerror}") from None
        yield inside


def engine_name(url: str) -> str:
    return "postgresql" if url.startswith("postgres") else "sqlite"


def read_line(proc: Any, timeout_s: float) -> str:
    """The first line PROC prints, or "" when it exits or stays silent for TIMEOUT_S."""
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            return ""
    return str(proc.stdout.readline().decode("utf-8", errors="replace"))


def stop_process(proc: Any) -> None:
    """SIGTERM, a grace period for a clean shutdown, then SIGKILL."""
    import subprocess

    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    if proc.stdout is not None:
        proc.stdout.close()


def wait_healthy(stack: Stack, timeout_s: float) -> None:
    import asyncio
    import time

    from rongpay.cli.bench_http import Connection, HttpError, call

    async def probe() -> int:
        conn = Connection(*stack.base)
        try:
            status, _ = await call(conn, "GET", "/healthz", "")
            return status
        finally:
            await conn.close()

    deadline = time.monotonic() + timeout_s  # a bound on waiting for start-up
    while time.monotonic() < deadline:
        if stack.server.poll() is not None:
            raise CliError(f"the server exited at start-up: {stack.log_tail('server')}", 1)
        try:
            if asyncio.run(probe()) == 200:
                return
        except (HttpError, OSError):
            pass
        time.sleep(0.2)
    raise CliError(f"the server did not answer /healthz in {timeout_s:.0f} s", 1)


def ledger_check(db_url: str) -> dict[str, Any]:
    """`rongpay ledger check --json` on the bench database, in its own process."""
    import subprocess

    env = {**os.environ, "RONGPAY_DB": db_url}
    done = subprocess.run([sys.executable, "-m", "rongpay", "ledger", "check", "--json"],
                          env=env, capture_output=True, text=True, timeout=1800)  # fmt: skip
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError:
        err = done.stderr.strip().splitlines()
        return {"ok": False, "error": err[-1] if err else f"exit {done.returncode}"}
    summary: dict[str, Any] = {"ok": done.returncode == 0 and bool(data.get("ok"))}
    for key in ("accounts", "transfers", "batches"):
        if key in data:
            summary[key] = data[key]
    failed = [i.get("name") for i in data.get("invariants", []) if not i.get("ok")]
    if failed:
        summary["failed"] = failed
    return summary


# -- seeding --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seeded:
    merchant_id: str
    secret_key: str
    customers: tuple[str, ...]
    wallet_missing: str  # why wallet payments cannot run here, or ""


def _expect(status: int, data: Any, what: str) -> dict[str, Any]:
    if 200 <= status < 300 and isinstance(data, dict):
        return data
    code = data.get("error", {}).get("code") if isinstance(data, dict) else None
    raise CliError(f"seeding failed: {what} answered {status} {code or ''}".rstrip(), 1)


async def _seed(base: tuple[str, int], admin: str, config: BenchConfig, topup: int) -> Seeded:
    from rongpay.cli.bench_http import Connection, call

    conn = Connection(*base)
    try:
        status, data = await call(conn, "POST", "/v1/merchants", admin,
                                  {"name": "Bench Payments Ltd", "country": "US",
                                   "default_currency": CURRENCY})  # fmt: skip
        merchant = _expect(status, data, "POST /v1/merchants")
        status, data = await call(conn, "POST", "/v1/customers", admin,
                                  {"name": "Bench Customer 0", "country": "US"})  # fmt: skip
    finally:
        await conn.close()
    if status in (404, 405) or "wallet" not in config.phases:
        why = "not asked for" if "wallet" not in config.phases else "no /v1/customers here"
        return Seeded(merchant["id"], merchant["secret_key"], (), why)
    first = _expect(status, data, "POST /v1/customers")["id"]
    ids = [first] + [""] * (config.customers - 1)
    await _fill_customers(base, admin, merchant["id"], ids, topup)
    return Seeded(merchant["id"], merchant["secret_key"], tuple(ids), "")


async def _fill_customers(
    base: tuple[str, int], admin: str, merchant_id: str, ids: list[str], topup: int
) -> None:
    """Create the customers not yet created, top each wallet up and mandate the merchant."""
    import asyncio

    from rongpay.cli.bench_http import Connection, call

    todo = iter(range(len(ids)))

    async def worker() -> None:
        conn = Connection(*base)
        try:
            for i in todo:
                if not ids[i]:
                    who = {"name": f"Bench Customer {i}", "country": "US"}
                    status, data = await call(conn, "POST", "/v1/customers", admin, who)
                    ids[i] = _expect(status, data, "POST /v1/customers")["id"]
                path = f"/v1/customers/{ids[i]}"
                status, data = await call(conn, "POST", f"{path}/topups", admin,
                                          {"amount": topup, "currency": CURRENCY},
                                          idem=f"bench-topup-{ids[i]}")  # fmt: skip
                _expect(status, data, f"POST {path}/topups")
                status, data = await call(conn, "POST", f"{path}/mandates", admin,
                                          {"merchant": merchant_id})  # fmt: skip
                _expect(status, data, f"POST {path}/mandates")
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(min(16, len(ids)))))


# -- phases ---------------------------------------------------------------------------------


def luhn_pan(prefix: str, serial: int, length: int = 16) -> str:
    """A card number that passes the Luhn check: PREFIX, SERIAL zero-padded, check digit."""
    body = f"{prefix}{serial:0{length - len(prefix) - 1}d}"
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def card_bodies(count: int) -> tuple[bytes, ...]:
    """COUNT distinct approving sandbox cards (any Visa number not on the issuer's special
    list is approved), so risk velocity on one card number does not decline the bench."""
    import orjson

    out = []
    for n in range(count):
        card = {"number": luhn_pan("424242", 100_000 + n), "exp_month": 12, "exp_year": 2030,
                "cvc": "123"}  # fmt: skip
        method = {"type": "card", "card": card}
        out.append(orjson.dumps({"amount": AMOUNT_MINOR, "currency": CURRENCY, "confirm": True,
                                 "payment_method_data": method}))  # fmt: skip
    return tuple(out)


def wallet_bodies(customers: tuple[str, ...]) -> tuple[bytes, ...]:
    import orjson

    return tuple(
        orjson.dumps({"amount": AMOUNT_MINOR, "currency": CURRENCY, "confirm": True,
                      "payment_method_data": {"type": "wallet", "wallet": {"customer": c}}})
        for c in customers
    )  # fmt: skip


def _floor_endpoint(base: tuple[str, int], key: str) -> tuple[str, str]:
    """POST /v1/ping when the server has it, else GET /healthz (which runs SELECT 1)."""
    import asyncio

    from rongpay.cli.bench_http import Connection, call

    async def probe() -> int:
        conn = Connection(*base)
        try:
            return (await call(conn, "POST", "/v1/ping", key, {}))[0]
        finally:
            await conn.close()

    return ("POST", "/v1/ping") if asyncio.run(probe()) == 200 else ("GET", "/healthz")


def _specs(stack: Stack, seeded: Seeded, run_id: str) -> dict[str, Any]:
    from dataclasses import replace

    from rongpay.cli.bench_http import PhaseSpec

    cfg = stack.config
    method, path = _floor_endpoint(stack.base, seeded.secret_key)
    pay = PhaseSpec("pay", stack.base[0], stack.base[1], "POST", "/v1/payment_intents",
                    seeded.secret_key, (), cfg.payments, cfg.concurrency,
                    success_marker=b'"status":"succeeded"')  # fmt: skip
    specs: dict[str, PhaseSpec] = {}
    if "noop" in cfg.phases:
        post = method == "POST"
        specs["noop"] = replace(pay, name="noop", method=method, path=path, success_marker=b"",
                                bodies=(b"{}",) if post else (),
                                idem_prefix=f"{run_id}-noop-" if post else "")  # fmt: skip
    if "wallet" in cfg.phases and seeded.customers:
        specs["wallet"] = replace(pay, name="wallet", bodies=wallet_bodies(seeded.customers),
                                  idem_prefix=f"{run_id}-wallet-")  # fmt: skip
    if "card" in cfg.phases:
        specs["card"] = replace(pay, name="card", bodies=card_bodies(min(cfg.payments, 1000)),
                                idem_prefix=f"{run_id}-card-")  # fmt: skip
    return specs


def _run_phases(stack: Stack, specs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each phase after an untimed warm-up, in a load process of its own (spawned, so it
    shares nothing with this one)."""
    import multiprocessing
    from dataclasses import replace

    from rongpay.cli.bench_http import run_phase

    out: dict[str, dict[str, Any]] = {}
    pool = multiprocessing.get_context("spawn").Pool(1)
    try:
        for name, spec in specs.items():
            if stack.config.warmup:
                prefix = spec.idem_prefix and f"{spec.idem_prefix}warm-"
                warm = replace(spec, requests=stack.config.warmup, idem_prefix=prefix)
                pool.apply(run_phase, (warm,))
            stack.say(f"phase {name}: {spec.requests} requests, {spec.concurrency} clients")
            before = {who: cpu_seconds(pid) for who, pid in stack.pids().items()}
            out[name] = row = pool.apply(run_phase, (spec,)).as_dict()
            if stack.server.poll() is not None:
                tail = stack.log_tail("server")
                raise CliError(f"the server exited during the {name} phase: {tail}", 1)
            row["endpoint"] = f"{spec.method} {spec.path}"
            for who, pid in stack.pids().items():
                used = cpu_seconds(pid) - before[who]
                row[f"{who}_cpu_us_per_request"] = round(used * 1e6 / spec.requests, 1)
            stack.say(f"phase {name}: {out[name]['per_s']:.0f}/s, p99 {out[name]['p99_ms']} ms")
    finally:
        pool.terminate()
        pool.join()
    return out


def _targets(phases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    wallet, card = phases.get("wallet", {}), phases.get("card", {})
    met = {
        "wallet": bool(wallet) and "skipped" not in wallet and not wallet["errors"]
        and wallet["per_s"] >= TARGET_WALLET_PER_S and wallet["p99_ms"] <= TARGET_WALLET_P99_MS,
        "card": bool(card) and not card["errors"] and card["per_s"] >= TARGET_CARD_PER_S,
    }  # fmt: skip
    return {
        "wallet_per_s": TARGET_WALLET_PER_S, "wallet_p99_ms": TARGET_WALLET_P99_MS,
        "card_per_s": TARGET_CARD_PER_S, "met": met,
        "text": {"wallet": f">= {TARGET_WALLET_PER_S}/s with p99 <= {TARGET_WALLET_P99_MS} ms",
                 "card": f">= {TARGET_CARD_PER_S}/s"},
    }  # fmt: skip


def run_bench(config: BenchConfig, say: Any) -> dict[str, Any]:
    """Start everything, seed, run the phases, check the ledger; always stop and clean up."""
    load_before = machine_load()
    wallet_requests = config.payments + config.warmup
    per_customer = -(-wallet_requests // config.customers)
    topup = AMOUNT_MINOR * per_customer * 2
    run_id = "bench-" + secrets.token_hex(4)
    with scratch_database(config.db) as url, Stack(config, say, url) as stack:
        stack.start_server(stack.start_issuer())
        say(f"seeding 1 merchant and {config.customers} wallet customers")
        import asyncio

        seeded = asyncio.run(_seed(stack.base, stack.admin_key, config, topup))
        phases = _run_phases(stack, _specs(stack, seeded, run_id))
        stack.stop_server()
        say("server stopped; rongpay ledger check")
        check = ledger_check(stack.db_url)
    if "wallet" in config.phases and "wallet" not in phases:
        phases["wallet"] = {"skipped": seeded.wallet_missing}
    floor = phases.get("noop", {}).get("per_s")
    for name in ("wallet", "card"):
        row = phases.get(name)
        if row and floor and "per_s" in row:
            row["ratio_to_floor"] = round(row["per_s"] / floor, 3)
    return {
        **phases, "target": _targets(phases), "ledger_check": check,
        "config": {"payments": config.payments, "concurrency": config.concurrency,
                   "customers": config.customers, "warmup": config.warmup,
                   "issuer_latency_ms": config.issuer_latency_ms, "workers": config.workers,
                   "database": engine_name(config.db or ""), "amount_minor": AMOUNT_MINOR,
                   "currency": CURRENCY,
                   "cpus": os.cpu_count()},
        "machine": {"load_before": load_before, "load_after": machine_load()},
    }  # fmt: skip
