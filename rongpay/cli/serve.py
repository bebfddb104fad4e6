"""`rongpay serve` and `rongpay demo`: run the HTTP service (uvicorn, one worker).

Both open the database first (migrating it), so a bad URL, an unreachable server or a busy
port is a one-line message and an exit code before anything starts, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import os
import socket
import sys
from typing import Any

from rongpay.cli.common import CliError, add_db_option, positive_int

ADMIN_KEY_ENV = "RONGPAY_ADMIN_KEY"


def register(commands: Any, bench: Any) -> None:
    del bench
    serve = commands.add_parser("serve", help="serve the HTTP API and back office (uvicorn)")
    _add_server_options(serve)
    serve.set_defaults(func=run_serve)
    demo = commands.add_parser(
        "demo", help="seed demo data (idempotent), then serve it with the sandbox issuer and bank"
    )
    _add_server_options(demo, sandbox_default=True)
    demo.add_argument("--no-serve", action="store_true", help="seed and print, do not serve")
    demo.set_defaults(func=run_demo)


def _add_server_options(parser: argparse.ArgumentParser, *, sandbox_default: bool = False) -> None:
    add_db_option(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument(
        "--workers", type=positive_int, default=1, metavar="N",
        help="server processes (default 1). Each has its own payment writer, risk history and "
        "AML monitor; on SQLite they also queue for one write lock, so more than one pays off "
        "on PostgreSQL only",
    )  # fmt: skip
    parser.add_argument(
        "--sandbox", action=argparse.BooleanOptionalAction, default=sandbox_default,
        help="also start the simulated card issuer and bank as separate processes and point "
        "the gateway at them (default: %(default)s)",
    )  # fmt: skip


def _open_database(db: str | None) -> tuple[str, Any]:
    """(url, engine), migrated; CliError with the reason when it cannot be opened."""
    from sqlalchemy.exc import DBAPIError

    from rongpay.store import engine as store_engine

    try:
        url = store_engine.database_url(db)
        return url, store_engine.create(url)
    except store_engine.DatabaseUrlError as exc:
        raise CliError(str(exc), exit_code=2) from None
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise CliError(f"cannot open the database: {reason}", exit_code=1) from None


def _check_port(host: str, port: int) -> None:
    if not 0 < port < 65536:
        raise CliError(f"--port must be between 1 and 65535, not {port}", exit_code=2)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise CliError(f"cannot listen on {host!r}: unknown host", exit_code=2) from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(
                    f"port {port} on {host} is already in use (try --port {port + 1})",
                    exit_code=1,
                ) from None
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}", exit_code=1) from None


def _admin_key() -> tuple[str, bool]:
    """(key, generated): $RONGPAY_ADMIN_KEY, else a fresh random one."""
    from rongpay.api.app import generate_admin_key

    key = os.environ.get(ADMIN_KEY_ENV)
    return (key, False) if key else (generate_admin_key(), True)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _announce(host: str, port: int, key: str, generated: bool) -> str:
    base = f"http://{host}:{port}"
    _say(f"rongpay serving on {base}  (back office {base}/, API docs {base}/docs)")
    if generated:
        _say(f"Admin key (generated for this run; set {ADMIN_KEY_ENV} to choose one): {key}")
    else:
        _say(f"Admin key: from ${ADMIN_KEY_ENV}")
    return base


def _serve(url: str, host: str, port: int, key: str, sandbox: bool = False,
           workers: int = 1) -> int:  # fmt: skip
    import uvicorn

    from rongpay.api import create_app
    from rongpay.cli import sandboxes

    os.environ.setdefault("RONGPAY_BASE_URL", f"http://{host}:{port}")  # hosted pages, callbacks
    started = sandboxes.start() if sandbox else None
    try:
        if workers > 1:  # uvicorn starts each worker from the factory; settings go by environment
            os.environ.update({"RONGPAY_DB": url, ADMIN_KEY_ENV: key})
            uvicorn.run("rongpay.api.app:create_app", factory=True, host=host, port=port,
                        workers=workers, log_level="info", access_log=False)  # fmt: skip
            return 0
        app = create_app(url, admin_key=key)
        config = uvicorn.Config(app, host=host, port=port, workers=1, log_level="info",
                                access_log=False)  # fmt: skip
        server = uvicorn.Server(config)
        server.run()
    finally:
        if started is not None:
            started.stop()
    return 0 if server.started else 1


def run_serve(args: argparse.Namespace) -> int:
    url, engine = _open_database(args.db)
    engine.dispose()
    _check_port(args.host, args.port)
    key, generated = _admin_key()
    _announce(args.host, args.port, key, generated)
    return _serve(url, args.host, args.port, key, args.sandbox, args.workers)


def run_demo(args: argparse.Namespace) -> int:
    from rongpay import demo

    url, engine = _open_database(args.db)
    try:
        report = demo.seed(engine)
        gateway = demo.seed_gateway(engine)
    except demo.DemoError as exc:
        raise CliError(str(exc), exit_code=1) from None
    finally:
        from rongpay.payments.writer import close_writer

        close_writer(engine)
        engine.dispose()
    if report.fresh:
        _say(f"Seeded {report.accounts_created} accounts and {report.transfers_created} transfers.")
    else:
        _say(f"Demo data already there ({report.accounts_existing} accounts, "
             f"{report.transfers_existing} transfers); nothing changed.")  # fmt: skip
    base = f"http://{args.host}:{args.port}"
    if args.no_serve:
        _say(f"Serve it with: rongpay serve (the admin key comes from ${ADMIN_KEY_ENV}).")
        _print_tour(base, f"${ADMIN_KEY_ENV}", report.sample)
        _print_payments_tour(base, gateway)
        return 0
    _check_port(args.host, args.port)
    key, generated = _admin_key()
    _announce(args.host, args.port, key, generated)
    _print_tour(base, key if generated else f"${ADMIN_KEY_ENV}", report.sample)
    _print_payments_tour(base, gateway)
    return _serve(url, args.host, args.port, key, args.sandbox)


def _print_tour(base: str, key: str, sample: dict[str, str]) -> None:
    auth = f'-H "Authorization: Bearer {key}"'
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _say()
    _say("Try:")
    _say(f"  curl {base}/healthz")
    _say(f"  curl {auth} {base}/v1/ledger/accounts/{sample['account']}")
    _say(f"  curl {auth} '{base}/v1/ledger/accounts/{sample['account']}/transfers?limit=3'")
    _say(f"  curl {auth} {base}/v1/ledger/transfers/{sample['pending']}")
    _say(f"  curl {auth} '{base}/v1/ledger/accounts/{sample['history_account']}/balance"
         f"?at={now}'")  # fmt: skip
    _say(
        f"  curl {auth} -H 'Content-Type: application/json' {base}/v1/ledger/transfers -d "
        """'{"transfers":[{"id":"tour_1","debit_account_id":"wallet_alice_usd","""
        """"credit_account_id":"merchant_bookshop_usd","amount":1000,"ledger":"USD","""
        """"code":"payment"}]}'"""
    )
    _say(f"  open {base}/ in a browser and sign in with the admin key")
    _say()
    sys.stdout.flush()


def _print_payments_tour(base: str, gateway: Any) -> None:
    merchant = next(iter(gateway.merchants.items()))
    alice = next(iter(gateway.customers.values()))
    sk = gateway.secret_key
    auth = f'-H "Authorization: Bearer {sk}" -H "Content-Type: application/json"'
    card = ('{"amount":2000,"currency":"usd","confirm":true,"payment_method_data":{"type":'
            '"card","card":{"number":"4242424242424242","exp_month":12,"exp_year":2030,'
            '"cvc":"123"}}}')  # fmt: skip
    wallet = ('{"amount":1500,"currency":"usd","confirm":true,"payment_method_data":{"type":'
              f'"wallet","wallet":{{"customer":"{alice}"}}}}}}')  # fmt: skip
    _say(f"Payments: merchant {merchant[0]} ({merchant[1]}); its test secret key (shown once):")
    _say(f"  {sk}")
    _say(f"  curl {auth} {base}/v1/payment_intents -d '{card}'")
    _say(f"  curl {auth} {base}/v1/payment_intents -d '{wallet}'")
    _say(f"  curl {auth} '{base}/v1/payment_intents?limit=3'")
    _say("  test cards: docs/reference/cards.md (4000000000000002 declines, "
         "4000002500003155 asks for a code)")  # fmt: skip
    _say()
    sys.stdout.flush()
