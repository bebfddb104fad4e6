"""Compliance commands: `screen`, `aml scan|eval`, `kyc ...`, `cases ...`, `reports ...`,
`complaints ...`, and the `screen` and `aml` targets of `rongpay bench`.

Exit codes (all compliance commands): 0 done; 1 a finding the caller asked to fail on
(`screen --fail-on-match`, `aml eval --check` below target, `kyc check` refused, `kyc doc` invalid);
2 bad arguments or an unreadable file; 3 a malformed sanctions list (nothing loaded);
4 some input lines were rejected (each named on stderr), the rest processed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rongpay.cli.common import CliError, add_db_option

EXIT_FINDING = 1
EXIT_USAGE = 2
EXIT_BAD_LIST = 3
EXIT_BAD_LINES = 4


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


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
    p.add_argument("--threshold", type=_fraction, default=None, help="match at/above (0.85)")
    p.add_argument("--floor", type=_fraction, default=None, help="report at/above (0.70)")
    p.add_argument("--limit", type=_positive, default=5, help="matches per name (5)")
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
    names = _screen_inputs(args)
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
    del commands


def _register_cases(commands: Any) -> None:
    del commands


def _register_reports(commands: Any) -> None:
    del commands


def _register_complaints(commands: Any) -> None:
    del commands


# --- bench ----------------------------------------------------------------------------------


def _register_bench(bench: Any) -> None:
    p = bench.add_parser("screen", help="screening names/s: blocking index vs naive full scan")
    p.add_argument("--entries", type=_positive, default=100_000, help="list size (100000)")
    p.add_argument("--names", type=_positive, default=20_000, help="names screened (20000)")
    p.add_argument("--baseline-names", type=_positive, default=5, help="names for the full scan")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench_screen)
    _register_bench_aml(bench)


def _register_bench_aml(bench: Any) -> None:
    p = bench.add_parser("aml", help="aml scan events/s over generated traffic")
    p.add_argument("--events", type=_positive, default=1_000_000, help="events (1000000)")
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
        progress=lambda msg: print(msg, file=sys.stderr),
    )
    if args.json:
        print(orjson.dumps(result).decode())
    else:
        for key, value in result.items():
            print(f"{key:28s} {value}")
    return 0


__all__ = ["add_db_option", "register"]
