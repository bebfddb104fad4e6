"""`rongpay ledger ...` and `rongpay bench ledger`: thin wrappers over the ledger services."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rongpay.cli.common import CliError, add_db_option, fraction, open_engine, positive_int

EXIT_REJECTED = 1  # some events were not created / an invariant is broken
EXIT_USAGE = 2  # bad input: unreadable file, malformed JSON, unknown id


def register(commands: Any, bench: Any) -> None:
    ledger = commands.add_parser("ledger", help="double-entry ledger: accounts, transfers, check")
    sub = ledger.add_subparsers(dest="ledger_command", metavar="SUBCOMMAND", required=True)
    _register_objects(sub)

    p = sub.add_parser("balance", help="an account's balances, now or (history accounts) at a time")
    p.add_argument("account_id")
    p.add_argument("--at", help="RFC 3339 time, e.g. 2026-11-25T12:00:00Z (history accounts)")
    p.add_argument("--json", action="store_true")
    add_db_option(p)
    p.set_defaults(func=cmd_balance)

    p = sub.add_parser("check", help="prove the ledger invariants; exit 1 when any is broken")
    p.add_argument("--json", action="store_true")
    add_db_option(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("expire", help="release pending transfers whose timeout has passed")
    add_db_option(p)
    p.set_defaults(func=cmd_expire)

    p = bench.add_parser("ledger", help="batch engine vs one-transaction-per-transfer baseline")
    p.add_argument("--transfers", type=positive_int, default=100_000, metavar="N")
    p.add_argument("--accounts", type=positive_int, default=10_000, metavar="M")
    p.add_argument(
        "--hot",
        type=fraction,
        default=0.0,
        metavar="F",
        help="share of transfers touching one hot account (0..1)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    add_db_option(p)
    p.set_defaults(func=cmd_bench)


def _register_objects(sub: Any) -> None:
    for kind in ("accounts", "transfers"):
        p = sub.add_parser(kind, help=f"create, show and list {kind}")
        verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
        c = verbs.add_parser("create", help=f"create {kind} from JSON or JSON Lines (FILE or -)")
        c.add_argument("file", metavar="FILE")
        add_db_option(c)
        c.set_defaults(func=cmd_create, kind=kind)
        s = verbs.add_parser("show", help="one by id, as JSON")
        s.add_argument("id")
        add_db_option(s)
        s.set_defaults(func=cmd_show, kind=kind)
        ls = verbs.add_parser("list", help="list accounts, or an account's transfers")
        if kind == "transfers":
            ls.add_argument("account_id", help="the account whose statement to list")
        else:
            ls.add_argument("--ledger", help="only this currency's ledger")
        ls.add_argument("--limit", type=positive_int, default=100)
        ls.add_argument("--after", help="cursor: the last id (accounts) or timestamp (transfers)")
        add_db_option(ls)
        ls.set_defaults(func=cmd_list, kind=kind)


def _engine(args: argparse.Namespace) -> Any:
    return open_engine(args.db)


def _read_items(path: str, kind: str) -> list[Any]:
    """A JSON array, {"<kind>": [...]}, or JSON Lines, from FILE or stdin."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise CliError(f"{path}:{n}: not JSON ({exc.msg})") from None
        return items
    if isinstance(data, dict) and isinstance(data.get(kind), list):
        return list(data[kind])
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return [data]
    raise CliError(f"{path}: expected a JSON array, an object with {kind!r}, or JSON Lines")


def _chunks(items: list[Any], limit: int) -> list[list[Any]]:
    """Split into batches of at most LIMIT, never inside a linked chain."""
    out: list[list[Any]] = []
    current: list[Any] = []
    chain_start = 0
    for item in items:
        current.append(item)
        flags = item.get("flags") if isinstance(item, dict) else None
        linked = isinstance(flags, list) and "linked" in flags
        if not linked:
            chain_start = len(current)
        if len(current) >= limit:
            cut = chain_start if chain_start else len(current)
            out.append(current[:cut])
            current = current[cut:]
            chain_start = 0
    if current:
        out.append(current)
    return out


def cmd_create(args: argparse.Namespace) -> int:
    from rongpay.ledger import service
    from rongpay.ledger.types import MAX_BATCH, render_id

    items = _read_items(args.file, args.kind)
    engine = _engine(args)
    failed = 0
    for chunk in _chunks(items, MAX_BATCH):
        results: list[str]
        if args.kind == "accounts":
            results = list(service.create_accounts(engine, chunk))
        else:
            (batch,) = service.create_transfers(engine, [service.parse_transfers(chunk)])
            results = list(batch)
        for raw, result in zip(chunk, results, strict=True):
            rid = raw.get("id") if isinstance(raw, dict) else None
            print(
                json.dumps(
                    {"id": rid if rid is not None else render_id(None), "result": str(result)}
                )
            )
            failed += result not in ("ok", "exists")
    if failed:
        print(f"rongpay: {failed} of {len(items)} {args.kind} were not created", file=sys.stderr)
    return EXIT_REJECTED if failed else 0


def cmd_show(args: argparse.Namespace) -> int:
    from rongpay.ledger import render, service
    from rongpay.ledger.types import parse_id

    oid = parse_id(args.id)
    if oid is None:
        raise CliError(f"{args.id!r} is not a valid id")
    engine = _engine(args)
    if args.kind == "accounts":
        account = service.get_account(engine, oid)
        if account is None:
            raise CliError(f"no account {args.id}", EXIT_REJECTED)
        print(json.dumps(render.account(account), indent=2))
        return 0
    transfer = service.get_transfer(engine, oid)
    if transfer is None:
        raise CliError(f"no transfer {args.id}", EXIT_REJECTED)
    print(json.dumps(render.transfer(transfer, service.pending_state(engine, oid)), indent=2))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rongpay import money
    from rongpay.ledger import render, service
    from rongpay.ledger.service import MAX_PAGE
    from rongpay.ledger.types import parse_id

    limit = min(args.limit, MAX_PAGE)
    engine = _engine(args)
    if args.kind == "accounts":
        after = parse_id(args.after) if args.after else None
        for a in service.list_accounts(engine, ledger=args.ledger, after_id=after, limit=limit):
            print(json.dumps(render.account(a)))
        return 0
    aid = parse_id(args.account_id)
    if aid is None or service.get_account(engine, aid) is None:
        raise CliError(f"no account {args.account_id}", EXIT_REJECTED)
    try:
        after_ts = int(args.after) if args.after else None
    except ValueError:
        raise CliError("--after takes the timestamp of the last entry seen") from None
    for e in service.statement(engine, aid, after=after_ts, limit=limit):
        line = render.entry(e.transfer, e.debits_posted, e.credits_posted, aid)
        line["amount_text"] = money.format_money(e.transfer.amount, e.transfer.ledger or "")
        print(json.dumps(line))
    return 0


def cmd_balance(args: argparse.Namespace) -> int:
    from rongpay.ledger import render, service
    from rongpay.ledger.types import A_HISTORY, parse_id

    aid = parse_id(args.account_id)
    engine = _engine(args)
    account = service.get_account(engine, aid) if aid else None
    if account is None:
        raise CliError(f"no account {args.account_id}", EXIT_REJECTED)
    if args.at is None:
        out = render.balances(account)
    else:
        if not account.flags & A_HISTORY:
            raise CliError(f"account {args.account_id} has no 'history' flag: no past balances")
        at_ns = _parse_time(args.at)
        found = service.balance_at(engine, account.id, at_ns)
        out = render.balance_at(account, found, at_ns)
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:16} {value}")
    return 0


def _parse_time(text: str) -> int:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--at {text!r} is not an RFC 3339 time (2026-11-25T12:00:00Z)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def cmd_check(args: argparse.Namespace) -> int:
    from rongpay.ledger import check

    report = check.check(_engine(args))
    if args.json:
        print(json.dumps(report.as_dict()))
        return 0 if report.ok else EXIT_REJECTED
    status = "OK" if report.ok else "BROKEN"
    print(
        f"ledger check: {status}: {report.accounts} accounts, {report.transfers} transfers, "
        f"{report.batches} batches"
    )
    for ledger, totals in report.ledgers.items():
        print(
            f"  {ledger}: {totals['accounts']} accounts, debits posted "
            f"{totals['debits_posted']} = credits posted {totals['credits_posted']}"
            if totals["debits_posted"] == totals["credits_posted"]
            else f"  {ledger}: UNBALANCED debits {totals['debits_posted']} credits "
            f"{totals['credits_posted']}"
        )
    for inv in report.invariants:
        print(f"  [{'ok' if inv.ok else 'FAIL'}] {inv.name}")
        for problem in inv.problems:
            print(f"      {problem}")
        if inv.count > len(inv.problems):
            print(f"      ... and {inv.count - len(inv.problems)} more")
    return 0 if report.ok else EXIT_REJECTED


def cmd_expire(args: argparse.Namespace) -> int:
    from rongpay.ledger import service

    print(f"released {service.expire(_engine(args))} expired pending transfers")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from rongpay.ledger import bench
    from rongpay.store import engine as store_engine

    if args.accounts < 2:
        raise CliError("--accounts must be at least 2")
    try:
        url = store_engine.database_url(args.db)
        result = bench.bench(
            url, transfers=args.transfers, accounts=args.accounts, hot=args.hot, seed=args.seed
        )
    except store_engine.DatabaseUrlError as exc:
        raise CliError(str(exc)) from None
    data = result.as_dict()
    if args.json:
        print(json.dumps(data))
        return 0
    print(
        f"ledger benchmark on {result.engine}: {result.transfers} transfers, "
        f"{result.accounts} accounts, hot={result.hot}"
    )
    print(
        f"  batch engine : {result.transfers_per_s:>10,.0f} transfers/s "
        f"(batches of {result.batch_size}, p50 {result.batch_latency_ms_p50} ms, "
        f"p99 {result.batch_latency_ms_p99} ms)"
    )
    print(
        f"  baseline     : {result.baseline_transfers_per_s:>10,.0f} transfers/s "
        f"(one transaction per transfer, first {result.baseline_transfers})"
    )
    print(f"  ratio        : {result.ratio}x")
    return 0
