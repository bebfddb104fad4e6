"""Compliance commands: `screen`, `aml scan|eval`, `kyc ...`, `cases ...`, `reports ...`,
`complaints ...`, and the `screen` and `aml` targets of `rongpay bench`.

Exit codes (all compliance commands): 0 done; 1 a finding the caller asked to fail on
(`screen --fail-on-match`, `aml eval --check` below target, `kyc check` refused, `kyc doc` invalid);
2 bad arguments, an unreadable file (a missing --list too), an unopenable database or an
unwritable report; 3 a malformed sanctions list (nothing loaded);
4 some input lines were rejected (each named on stderr), the rest processed;
5 the case/complaint workflow forbids the action (four eyes, closed case, wrong status).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rongpay.cli.common import (
    CliError,
    add_db_option,
    fraction,
    open_engine,
    positive_int,
)

EXIT_FINDING = 1
EXIT_USAGE = 2
EXIT_BAD_LIST = 3
EXIT_BAD_LINES = 4
EXIT_WORKFLOW = 5


def register(commands: Any, bench: Any) -> None:
    """Add this capability's commands; see rongpay.cli for the contract."""
    _register_screen(commands)
    _register_aml(commands)
    _register_kyc(commands)
    _register_cases(commands)
    _register_reports(commands)
    _register_complaints(commands)
    _register_bench(bench)


# --- screen ---------------------------------------------------------------------------------


def _register_screen(commands: Any) -> None:
    p = commands.add_parser(
        "screen",
        help="screen names against a sanctions/PEP list (OpenSanctions targets.simple.csv)",
        description="Screen names against a list; best matches first, each with a score and why.",
    )
    p.add_argument("--list", required=True, metavar="LIST", help="targets.simple.csv layout")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--name", action="append", metavar="NAME", help="a name (repeatable)")
    who.add_argument("--names", metavar="FILE", help="a UTF-8 file with one name a line")
    p.add_argument("--json", action="store_true", help="one JSON line per name")
    p.add_argument("--threshold", type=fraction, default=None, help="match at/above (0.85)")
    p.add_argument("--floor", type=fraction, default=None, help="report at/above (0.70)")
    p.add_argument("--limit", type=positive_int, default=5, help="matches per name (5)")
    p.add_argument("--birth-date", metavar="YYYY[-MM[-DD]]", help="tie-breaker for every name")
    p.add_argument("--country", metavar="CC", help="ISO 3166 alpha-2 tie-breaker")
    p.add_argument("--fail-on-match", action="store_true", help="exit 1 if any name matched")
    p.set_defaults(func=cmd_screen)


def cmd_screen(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.compliance import screening_service as svc
    from rongpay.compliance.errors import InvalidInput, ListFormatError

    try:
        options = svc.ScreenOptions.build(
            threshold=args.threshold,
            floor=args.floor,
            limit=args.limit,
            birth_date=args.birth_date,
            country=args.country,
        )
    except InvalidInput as exc:
        raise CliError(exc.message, EXIT_USAGE) from exc
    _check_birth_date(args.birth_date)
    names = _screen_inputs(args)
    _check_readable(args.list, "list")
    try:
        screener = svc.load_screener(args.list)
    except ListFormatError as exc:
        raise CliError(exc.message, EXIT_BAD_LIST) from exc
    bad = matched = 0
    out = sys.stdout
    for line_no, name in names:
        try:
            matches = svc.screen_name(screener, name, options)
        except InvalidInput as exc:
            where = f"{args.names}: line {line_no}: " if args.names else ""
            print(f"rongpay: {where}{exc.message}", file=sys.stderr)
            bad += 1
            continue
        matched += any(m.is_match for m in matches)
        if args.json:
            row = {"name": name, "matches": [m.to_json() for m in matches]}
            out.write(orjson.dumps(row).decode() + "\n")
        else:
            out.write(svc.render_text(name, matches, options.threshold))
    if bad:
        return EXIT_BAD_LINES
    return EXIT_FINDING if args.fail_on_match and matched else 0


def _check_readable(path: str, what: str) -> None:
    """An unreadable file is a usage error (exit 2); only a malformed list exits 3."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise CliError(f"{path}: cannot read {what}: {exc.strerror}", EXIT_USAGE) from exc


def _check_birth_date(text: str | None) -> None:
    """--birth-date is YYYY, YYYY-MM or YYYY-MM-DD, and a real date (no 2026-02-30)."""
    import re
    from datetime import date

    if text is None:
        return
    ok = bool(re.fullmatch(r"[0-9]{4}(-[0-9]{2}){0,2}", text, flags=re.ASCII))
    if ok:
        year, month, day = [*text.split("-"), "01", "01"][:3]
        try:
            date.fromisoformat(f"{year}-{month}-{day}")
        except ValueError:
            ok = False
    if not ok:
        raise CliError(
            f"--birth-date {text!r} is not a real date as YYYY, YYYY-MM or YYYY-MM-DD", EXIT_USAGE
        )


def _screen_inputs(args: argparse.Namespace) -> list[tuple[int, str]]:
    if args.name is not None:
        return list(enumerate(args.name, start=1))
    try:
        with open(args.names, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise CliError(f"{args.names}: cannot read names file: {exc.strerror}", EXIT_USAGE) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CliError(f"{args.names}: line {line}: not UTF-8 text", EXIT_USAGE) from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(i, line.rstrip("\r")) for i, line in enumerate(lines, start=1)]


# --- aml ------------------------------------------------------------------------------------


def _register_aml(commands: Any) -> None:
    p = commands.add_parser("aml", help="anti-money-laundering transaction monitoring")
    sub = p.add_subparsers(dest="aml_command", metavar="ACTION", required=True)
    scan = sub.add_parser("scan", help="one JSON line per alert for an event file")
    scan.add_argument("events", metavar="EVENTS.jsonl", help="events (DESIGN.md format); - = stdin")
    _aml_options(scan)
    scan.add_argument("--quiet", action="store_true", help="no summary on stderr")
    scan.set_defaults(func=cmd_aml_scan)
    ev = sub.add_parser("eval", help="recall per typology and precision on labelled events")
    ev.add_argument("events", metavar="EVENTS.jsonl")
    _aml_options(ev)
    ev.add_argument("--json", action="store_true", help="print the result as one JSON object")
    ev.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ev.set_defaults(func=cmd_aml_eval)


def _aml_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="SCENARIO.NAME=VALUE",
        help="override a scenario parameter (repeatable), e.g. fan_in.min_counterparties=10",
    )
    p.add_argument("--ratings", metavar="FILE", help="CSV account,rating (low|medium|high)")


def _monitor(args: argparse.Namespace) -> Any:
    from rongpay.compliance.aml_engine import Monitor
    from rongpay.compliance.aml_params import AmlParams
    from rongpay.compliance.errors import InvalidInput
    from rongpay.compliance.kyc import load_ratings

    try:
        params = AmlParams().with_overrides(args.param)
        ratings = load_ratings(args.ratings) if args.ratings else {}
    except InvalidInput as exc:
        raise CliError(exc.message, EXIT_USAGE) from exc
    return Monitor(params, ratings)


def _open_events(path: str) -> Any:
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise CliError(f"{path}: cannot read events: {exc.strerror}", EXIT_USAGE) from exc


def cmd_aml_scan(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.compliance.aml_engine import ScanStats, scan_lines
    from rongpay.compliance.errors import EventFormatError

    monitor = _monitor(args)
    stats = ScanStats()
    fh = _open_events(args.events)
    write = sys.stdout.write
    try:
        for item in scan_lines(fh, monitor, stats):
            if isinstance(item, EventFormatError):
                print(f"rongpay: {args.events}: {item.message}", file=sys.stderr)
            else:
                write(orjson.dumps(item.to_json()).decode() + "\n")
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
    if not args.quiet:
        per = ", ".join(f"{k}={v}" for k, v in sorted(stats.by_scenario.items()))
        print(
            f"rongpay: scanned {stats.events} events, {stats.alerts} alerts ({per}), "
            f"{stats.bad_lines} bad lines",
            file=sys.stderr,
        )
    return EXIT_BAD_LINES if stats.bad_lines else 0


def cmd_aml_eval(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.compliance.aml_eval import evaluate

    monitor = _monitor(args)
    fh = _open_events(args.events)
    try:
        result = evaluate(fh, monitor)
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
    for message in result.bad_lines[:20]:
        print(f"rongpay: {args.events}: {message}", file=sys.stderr)
    if len(result.bad_lines) > 20:
        print(f"rongpay: ... and {len(result.bad_lines) - 20} more bad lines", file=sys.stderr)
    report = result.to_json()
    if args.json:
        print(orjson.dumps(report).decode())
    else:
        _print_eval(report)
    if result.bad_lines:
        return EXIT_BAD_LINES
    return EXIT_FINDING if args.check and not result.meets_targets() else 0


def _print_eval(report: dict[str, Any]) -> None:
    print(f"events {report['events']}, alerts {report['alerts']}, precision {report['precision']}")
    print(f"{'typology':24s} {'cases':>6s} {'found':>6s} {'recall':>7s}")
    for name, r in report["recall"].items():
        print(f"{name:24s} {r['cases']:6d} {r['detected']:6d} {r['recall']:7.3f}")
    print(f"{'scenario':24s} {'alerts':>6s} {'true':>6s} {'prec.':>7s}")
    for name, r in report["alerts_by_scenario"].items():
        print(f"{name:24s} {r['alerts']:6d} {r['true']:6d} {r['precision']:7.3f}")
    print("meets targets" if report["meets_targets"] else "targets missed", report["targets"])


def _register_kyc(commands: Any) -> None:
    p = commands.add_parser("kyc", help="KYC limit checks and identity document checks")
    sub = p.add_subparsers(dest="kyc_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="may this customer pay this amount? (exit 1: refused)")
    check.add_argument("--tier", required=True, help="unverified | basic | full")
    check.add_argument("--rating", default="low", help="low | medium | high (low)")
    check.add_argument("--amount", required=True, help='e.g. "1234.56 CNY"')
    check.add_argument("--spent-today", default="0 CNY", help="already spent today")
    check.add_argument("--spent-year", default="0 CNY", help="already spent this year")
    check.set_defaults(func=cmd_kyc_check)
    doc = sub.add_parser("doc", help="validate a document (exit 1: invalid)")
    doc.add_argument("kind", choices=["cn_resident_id", "passport_mrz", "iban"])
    doc.add_argument("value", help="the number, the IBAN, or the two MRZ lines")
    doc.set_defaults(func=cmd_kyc_doc)


def _money_cny(text: str, what: str) -> int:
    from rongpay.compliance.reference import cny_factors, to_cny_minor
    from rongpay.money import MoneyError, parse

    try:
        money = parse(text)
    except MoneyError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    if money.currency not in cny_factors():
        raise CliError(f"no reference CNY rate for {money.currency}", EXIT_USAGE)
    if money.minor < 0:
        raise CliError(f"{what} {text!r} is negative", EXIT_USAGE)
    return to_cny_minor(money.minor, money.currency)


def cmd_kyc_check(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.compliance import kyc
    from rongpay.compliance.errors import InvalidInput
    from rongpay.money import MoneyError, parse

    try:
        tier, rating = kyc.parse_tier(args.tier), kyc.parse_rating(args.rating)
        amount = parse(args.amount)
    except (InvalidInput, MoneyError) as exc:
        raise CliError(getattr(exc, "message", str(exc)), EXIT_USAGE) from exc
    today = _money_cny(args.spent_today, "--spent-today")
    year = _money_cny(args.spent_year, "--spent-year")
    spent = _service(lambda: kyc.SpendTotals(today, year))
    decision = kyc.check_limit(tier, rating, spent, amount.minor, amount.currency)
    print(orjson.dumps(decision.to_json()).decode())
    return 0 if decision.allowed else EXIT_FINDING


def cmd_kyc_doc(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.compliance.documents import DocumentKind, check_document

    result = check_document(DocumentKind(args.kind), args.value)
    print(orjson.dumps(result.to_json()).decode())
    return 0 if result.valid else EXIT_FINDING


def _engine(args: argparse.Namespace) -> Any:
    """The --db engine; an unopenable database is `rongpay: cannot open the database`, exit 2."""
    return open_engine(args.db)


def _service(call: Any) -> Any:
    """Run a service call, turning its errors into CLI errors with documented exit codes."""
    from rongpay.compliance.errors import InvalidInput, NotFound, ReportWriteError, WorkflowError

    try:
        return call()
    except WorkflowError as exc:
        raise CliError(f"{exc.message} [{exc.code}]", EXIT_WORKFLOW) from exc
    except (InvalidInput, NotFound, ReportWriteError) as exc:
        raise CliError(exc.message, EXIT_USAGE) from exc


def _print(obj: Any, as_json: bool) -> None:
    import orjson

    if as_json:
        print(orjson.dumps(obj).decode())
    else:
        print(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode())


def _register_cases(commands: Any) -> None:
    p = commands.add_parser("cases", help="AML cases: import alerts, investigate, close")
    sub = p.add_subparsers(dest="cases_command", metavar="ACTION", required=True)

    def add(name: str, help_text: str, func: Any, *, case: bool = True, by: bool = True) -> Any:
        q = sub.add_parser(name, help=help_text)
        if case:
            q.add_argument("case_id", metavar="CASE")
        if by:
            q.add_argument("--by", required=True, metavar="USER", help="who acts")
        add_db_option(q)
        q.set_defaults(func=func)
        return q

    imp = add("import", "open a case per new alert (aml scan output)", cmd_cases_import, case=False)
    imp.add_argument("alerts", metavar="ALERTS.jsonl")
    imp.add_argument("--events", metavar="EVENTS.jsonl", help="attach these transactions")
    lst = add("list", "list cases", cmd_cases_list, case=False, by=False)
    lst.add_argument("--status")
    lst.add_argument("--assignee")
    lst.add_argument("--limit", type=positive_int, default=100)
    lst.add_argument("--json", action="store_true")
    show = add("show", "a case with alerts, evidence and its action log", cmd_cases_show, by=False)
    show.add_argument("--json", action="store_true")
    add("assign", "assign to an analyst", cmd_cases_assign).add_argument("--to", required=True)
    add("start", "start investigating (you become the investigator)", cmd_cases_start)
    add("note", "add a note", cmd_cases_note).add_argument("--text", required=True)
    add("escalate", "escalate to the MLRO", cmd_cases_escalate).add_argument(
        "--reason", required=True
    )
    evid = add(
        "evidence", "attach transactions (and their graph) from an event file", cmd_cases_evidence
    )
    evid.add_argument("--events", required=True, metavar="EVENTS.jsonl")
    evid.add_argument("--id", dest="ids", action="append", required=True, metavar="EVENT_ID")
    close = add("close", "close (four eyes: not by the investigator)", cmd_cases_close)
    close.add_argument(
        "--as", dest="outcome", required=True, choices=["reported", "false_positive"]
    )
    close.add_argument("--reason", required=True)


def _read_jsonl(path: str, what: str) -> list[dict[str, Any]]:
    import orjson

    out = []
    try:
        with open(path, "rb") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise CliError(f"{path}: line {n}: not valid JSON ({exc})", EXIT_USAGE) from exc
                if not isinstance(obj, dict):
                    raise CliError(f"{path}: line {n}: not a JSON object", EXIT_USAGE)
                out.append(obj)
    except OSError as exc:
        raise CliError(f"{path}: cannot read {what}: {exc.strerror}", EXIT_USAGE) from exc
    return out


def cmd_cases_import(args: argparse.Namespace) -> int:
    from rongpay.compliance import cases

    alerts = _service(lambda: cases.check_alerts(_read_jsonl(args.alerts, "alerts")))
    events: dict[str, Any] = {}
    if args.events:
        wanted = {t for a in alerts for t in a["transactions"]}
        events = {
            e["id"]: e
            for e in _read_jsonl(args.events, "events")
            if isinstance(e.get("id"), str) and e["id"] in wanted
        }
    engine = _engine(args)
    opened = _service(lambda: cases.import_alerts(engine, alerts, by=args.by, events=events))
    print(f"opened {len(opened)} case(s) from {len(alerts)} alert(s)")
    for case_id in opened:
        print(case_id)
    return 0


def cmd_cases_list(args: argparse.Namespace) -> int:
    from rongpay.compliance import cases

    status = _service(lambda: cases.parse_status(args.status)) if args.status else None
    engine = _engine(args)
    found = _service(
        lambda: cases.list_cases(engine, status=status, assignee=args.assignee, limit=args.limit)
    )
    for c in found:
        if args.json:
            _print(c.to_json(), True)
        else:
            print(f"{c.id}  {c.status:22s} {c.assignee or '-':12s} {c.title[:70]}")
    return 0


def cmd_cases_show(args: argparse.Namespace) -> int:
    from rongpay.compliance import cases

    engine = _engine(args)
    _print(_service(lambda: cases.get_case(engine, args.case_id)).to_json(), args.json)
    return 0


def _case_action(args: argparse.Namespace, call: Any) -> int:
    engine = _engine(args)
    result = _service(lambda: call(engine))
    if result is not None:
        print(f"{result.id} {result.status}")
    else:
        print(f"{args.case_id} updated")
    return 0


def cmd_cases_assign(args: argparse.Namespace) -> int:
    from rongpay.compliance import cases

    return _case_action(args, lambda e: cases.assign(e, args.case_id, to=args.to, by=args.by))


def cmd_cases_start(args: argparse.Namespace) -> int:
    from rongpay.compliance import cases

    return _case_action(args, lambda e: cases.start(e, args.case_id, by=args.by))


def cmd_cases_note(args: argparse.Namespace) -> int:
    from rongpay.compliance import cases

    return _case_action(args, lambda e: cases.add_note(e, args.case_id, by=args.by, text=args.text))


def cmd_cases_escalate(args: argparse.Namespace) -> int:
    from rongpay.compliance import cases

    return _case_action(
        args, lambda e: cases.escalate(e, args.case_id, by=args.by, reason=args.reason)
    )


def cmd_cases_evidence(args: argparse.Namespace) -> int:
    from rongpay.compliance import cases

    wanted = set(args.ids)
    found = [
        e
        for e in _read_jsonl(args.events, "events")
        if isinstance(e.get("id"), str) and e["id"] in wanted
    ]
    missing = wanted - {e["id"] for e in found}
    if missing:
        raise CliError(f"{args.events}: no event(s) {', '.join(sorted(missing))}", EXIT_USAGE)
    return _case_action(
        args, lambda e: cases.add_transactions(e, args.case_id, by=args.by, transactions=found)
    )


def cmd_cases_close(args: argparse.Namespace) -> int:
    from rongpay.compliance import cases

    outcome = cases.Outcome(args.outcome)
    return _case_action(
        args,
        lambda e: cases.close(e, args.case_id, by=args.by, outcome=outcome, reason=args.reason),
    )


def _register_reports(commands: Any) -> None:
    p = commands.add_parser("reports", help="STR, daily large-value and complaints reports")
    sub = p.add_subparsers(dest="reports_command", metavar="KIND", required=True)
    s = sub.add_parser("str", help="suspicious transaction report of a case (JSON + HTML)")
    s.add_argument("case_id", metavar="CASE")
    lv = sub.add_parser("lvtr", help="daily large-value transaction report (JSON + HTML)")
    lv.add_argument("events", metavar="EVENTS.jsonl")
    lv.add_argument("--date", required=True, metavar="YYYY-MM-DD")
    lv.add_argument("--utc-offset", type=int, default=8, metavar="H", help="local time (8)")
    cr = sub.add_parser("complaints", help="complaints received in a period (JSON + HTML)")
    cr.add_argument("--from", dest="since", required=True, metavar="YYYY-MM-DD")
    cr.add_argument("--to", dest="until", required=True, metavar="YYYY-MM-DD", help="exclusive")
    for q, func in ((s, cmd_reports_str), (lv, cmd_reports_lvtr), (cr, cmd_reports_complaints)):
        q.add_argument("--by", required=True, metavar="USER")
        q.add_argument("--out", default=".", metavar="DIR", help="where to write (.)")
        add_db_option(q)
        q.set_defaults(func=func)


def _date(text: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{text!r} is not a date (YYYY-MM-DD)", EXIT_USAGE) from None


def _check_out(out: str) -> None:
    """Refuse a bad --out before any report is generated (and recorded)."""
    import os

    if not os.path.isdir(out) or not os.access(out, os.W_OK):
        raise CliError(f"{out} is not a writable directory", EXIT_USAGE)


def _written(report: dict[str, Any], out: str) -> None:
    from rongpay.compliance.reports import report_paths

    for path in report_paths(str(report["report_id"]), out):
        print(path)


def cmd_reports_str(args: argparse.Namespace) -> int:
    from rongpay.compliance.reports import suspicious_transaction_report

    _check_out(args.out)
    engine = _engine(args)
    report = _service(
        lambda: suspicious_transaction_report(engine, args.case_id, by=args.by, out_dir=args.out)
    )
    _written(report, args.out)
    return 0


def cmd_reports_lvtr(args: argparse.Namespace) -> int:
    from rongpay.compliance.reports import large_value_report

    _check_out(args.out)
    day = _date(args.date)
    engine = _engine(args)
    fh = _open_events(args.events)
    try:
        report, bad = _service(
            lambda: large_value_report(
                engine, fh, day, by=args.by, utc_offset_h=args.utc_offset, out_dir=args.out
            )
        )
    finally:
        fh.close()
    for message in bad:
        print(f"rongpay: {args.events}: {message}", file=sys.stderr)
    _written(report, args.out)
    return EXIT_BAD_LINES if bad else 0


def cmd_reports_complaints(args: argparse.Namespace) -> int:
    from rongpay.compliance.reports import complaints_report

    _check_out(args.out)
    since, until = _date(args.since), _date(args.until)
    engine = _engine(args)
    report = _service(lambda: complaints_report(engine, since, until, by=args.by, out_dir=args.out))
    _written(report, args.out)
    return 0


def _register_complaints(commands: Any) -> None:
    from rongpay.compliance.complaints import CATEGORIES, CHANNELS

    p = commands.add_parser("complaints", help="consumer complaints: intake and resolution")
    sub = p.add_subparsers(dest="complaints_command", metavar="ACTION", required=True)
    new = sub.add_parser("open", help="record a complaint (deadline 15 days)")
    new.add_argument("--customer", required=True)
    new.add_argument("--category", required=True, choices=sorted(CATEGORIES))
    new.add_argument("--channel", default="app", choices=sorted(CHANNELS))
    new.add_argument("--text", required=True, help="what the customer says")
    new.add_argument("--deadline-days", type=positive_int, default=15)
    take = sub.add_parser("take", help="start handling a complaint")
    take.add_argument("complaint_id", metavar="ID")
    res = sub.add_parser("resolve", help="resolve a complaint")
    res.add_argument("complaint_id", metavar="ID")
    res.add_argument("--resolution", required=True)
    lst = sub.add_parser("list", help="list complaints (overdue ones flagged)")
    lst.add_argument("--json", action="store_true")
    for q, func in (
        (new, cmd_complaints_open),
        (take, cmd_complaints_take),
        (res, cmd_complaints_resolve),
        (lst, cmd_complaints_list),
    ):
        if q is not lst:
            q.add_argument("--by", required=True, metavar="USER")
        add_db_option(q)
        q.set_defaults(func=func)


def _show_complaint(c: Any) -> int:
    flag = " OVERDUE" if c.to_json()["overdue"] else ""
    print(f"{c.id} {c.status} due {c.due_at}{flag}")
    return 0


def cmd_complaints_open(args: argparse.Namespace) -> int:
    from rongpay.compliance import complaints

    engine = _engine(args)
    return _show_complaint(
        _service(
            lambda: complaints.open_complaint(
                engine,
                customer=args.customer,
                category=args.category,
                description=args.text,
                channel=args.channel,
                by=args.by,
                deadline_days=args.deadline_days,
            )
        )
    )


def cmd_complaints_take(args: argparse.Namespace) -> int:
    from rongpay.compliance import complaints

    engine = _engine(args)
    return _show_complaint(_service(lambda: complaints.take(engine, args.complaint_id, by=args.by)))


def cmd_complaints_resolve(args: argparse.Namespace) -> int:
    from rongpay.compliance import complaints

    engine = _engine(args)
    return _show_complaint(
        _service(
            lambda: complaints.resolve(
                engine, args.complaint_id, by=args.by, resolution=args.resolution
            )
        )
    )


def cmd_complaints_list(args: argparse.Namespace) -> int:
    from rongpay.compliance import complaints

    engine = _engine(args)
    for c in complaints.list_complaints(engine):
        if args.json:
            _print(c.to_json(), True)
        else:
            _show_complaint(c)
    return 0


# --- bench ----------------------------------------------------------------------------------


def _register_bench(bench: Any) -> None:
    p = bench.add_parser("screen", help="screening names/s: blocking index vs naive full scan")
    p.add_argument("--entries", type=positive_int, default=100_000, help="list size (100000)")
    p.add_argument("--names", type=positive_int, default=20_000, help="names screened (20000)")
    p.add_argument("--baseline-names", type=positive_int, default=5, help="names for the full scan")
    p.add_argument(
        "--listed-share", type=fraction, default=0.5, help="share of listed-name variants (0.5)"
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench_screen)
    _register_bench_aml(bench)


def _register_bench_aml(bench: Any) -> None:
    p = bench.add_parser("aml", help="aml scan events/s over generated traffic")
    p.add_argument("--events", type=positive_int, default=1_000_000, help="events (1000000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", metavar="PATH", help="keep the generated events file here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench_aml)


def cmd_bench_aml(args: argparse.Namespace) -> int:
    import os
    import tempfile

    import orjson

    from rongpay.compliance.bench import bench_aml

    fd, path = tempfile.mkstemp(suffix=".jsonl") if not args.keep else (None, args.keep)
    if fd is not None:
        os.close(fd)
    try:
        result = bench_aml(
            events=args.events,
            seed=args.seed,
            path=path,
            progress=lambda msg: print(msg, file=sys.stderr),
        )
    except OSError as exc:
        raise CliError(f"{path}: {exc.strerror}", EXIT_USAGE) from exc
    finally:
        if not args.keep and os.path.exists(path):
            os.remove(path)
    if args.json:
        print(orjson.dumps(result).decode())
    else:
        for key, value in result.items():
            print(f"{key:28s} {value}")
    return 0


def cmd_bench_screen(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.compliance.bench import bench_screen

    result = bench_screen(
        entries=args.entries,
        names=args.names,
        baseline_names=args.baseline_names,
        seed=args.seed,
        listed_share=args.listed_share,
        progress=lambda msg: print(msg, file=sys.stderr),
    )
    if args.json:
        print(orjson.dumps(result).decode())
    else:
        for key, value in result.items():
            print(f"{key:28s} {value}")
    return 0


__all__ = ["add_db_option", "register"]
