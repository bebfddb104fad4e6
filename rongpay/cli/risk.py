"""`rongpay risk ...` and `rongpay bench risk`: score, train, eval, backtest, rules, lists.

Exit codes (docs/reference/risk.md): 0 done; 1 done, but some input lines were rejected (each
named on stderr); 2 nothing done: bad arguments or an unusable file (rules, list, model, state).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rongpay.cli.common import CliError

MAX_REPORTED_LINES = 50
EXIT_PARTIAL = 1


def register(commands: Any, bench: Any) -> None:
    """Add `rongpay risk` and `rongpay bench risk`; see rongpay.cli for the contract."""
    risk = commands.add_parser("risk", help="real-time risk: score, train, eval, backtest, lists")
    sub = risk.add_subparsers(dest="risk_command", metavar="COMMAND", required=True)
    _score_parser(sub)
    _train_parser(sub)
    _eval_parser(sub)
    _backtest_parser(sub)
    _rules_parser(sub)
    _lists_parser(sub)
    _profile_parser(sub)
    b = bench.add_parser("risk", help="decision latency and file throughput, beside rules-only")
    b.add_argument(
        "--events", type=int, default=100_000, help="events to simulate (default 100000)"
    )
    b.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    _engine_options(b, lists=False)
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.set_defaults(func=run_bench)


def _engine_options(p: argparse.ArgumentParser, lists: bool = True, rules: bool = True) -> None:
    p.add_argument("--model", metavar="MODEL.json", help="model file (default: the shipped one)")
    p.add_argument("--no-model", action="store_true", help="rules and lists only")
    if rules:
        p.add_argument("--rules", metavar="RULES", help="rules file (default: none)")
    if lists:
        p.add_argument("--lists", metavar="LIST.csv", help="block/allow list file")
        p.add_argument(
            "--db",
            metavar="URL",
            default=None,
            help="also apply the block/allow lists stored in this database",
        )


def _score_parser(sub: Any) -> None:
    p = sub.add_parser("score", help="one JSON decision line per event, in order")
    p.add_argument("events", metavar="EVENTS.jsonl", help="events file, or - for stdin")
    _engine_options(p)
    p.add_argument(
        "--rules-version",
        type=int,
        metavar="N",
        help="use published rules version N from the database (--db, else RONGPAY_DB)",
    )
    p.add_argument(
        "--state", metavar="STATE.json", help="load feature state from, and save it to, this file"
    )
    p.set_defaults(func=run_score)


def _train_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train a model on labelled events (time-based split)")
    p.add_argument("events", metavar="EVENTS.jsonl")
    p.add_argument("--out", required=True, metavar="MODEL.json")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--version", default=None, help="model version label (default: a UTC timestamp)")
    p.add_argument("--trees", type=int, default=120, help="boosting iterations (default 120)")
    p.set_defaults(func=run_train)


def _eval_parser(sub: Any) -> None:
    p = sub.add_parser(
        "eval", help="AUPRC, recall at 1%% FPR, decisions, beside an amount-only baseline"
    )
    p.add_argument("events", metavar="EVENTS.jsonl")
    _engine_options(p)
    p.add_argument("--holdout-days", type=float, default=None, help="measure only the last D days")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_eval)


def _backtest_parser(sub: Any) -> None:
    p = sub.add_parser("backtest", help="what a rules file would have done on past events")
    p.add_argument("rules_file", metavar="RULES")
    p.add_argument("events", metavar="EVENTS.jsonl")
    _engine_options(p, rules=False)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_backtest)


def _rules_parser(sub: Any) -> None:
    from rongpay.cli.common import add_db_option

    p = sub.add_parser("rules", help="check rules files; publish, list, activate, shadow versions")
    rs = p.add_subparsers(dest="rules_command", metavar="COMMAND", required=True)
    c = rs.add_parser("check", help="parse RULES and summarise it")
    c.add_argument("rules_file", metavar="RULES")
    c.set_defaults(func=run_rules_check)
    d = rs.add_parser("show-default", help="print the starter rules shipped with rongpay")
    d.set_defaults(func=run_rules_default)
    pub = rs.add_parser("publish", help="store RULES as its version (immutable once published)")
    pub.add_argument("rules_file", metavar="RULES")
    pub.add_argument("--note", default="", help="why this version exists")
    lst = rs.add_parser("list", help="published versions and which is active / in shadow")
    lst.add_argument("--json", action="store_true")
    show = rs.add_parser("show", help="print the text of a published version")
    show.add_argument("version", type=int, metavar="N")
    act = rs.add_parser("activate", help="make version N the live rules")
    act.add_argument("version", type=int, metavar="N")
    sh = rs.add_parser("shadow", help="run version N in shadow beside the active one")
    sh.add_argument("version", type=int, metavar="N", nargs="?")
    sh.add_argument("--clear", action="store_true", help="stop the shadow run")
    bt = rs.add_parser("backtest", help="two published versions on the same events, side by side")
    bt.add_argument("a", type=int, metavar="A")
    bt.add_argument("b", type=int, metavar="B")
    bt.add_argument("events", metavar="EVENTS.jsonl")
    _engine_options(bt, lists=False, rules=False)
    bt.add_argument("--lists", metavar="LIST.csv", help="block/allow list file")
    bt.add_argument("--json", action="store_true")
    for cmd, func in ((pub, run_rules_publish), (lst, run_rules_list), (show, run_rules_show),
                      (act, run_rules_activate), (sh, run_rules_shadow),
                      (bt, run_rules_backtest)):  # fmt: skip
        add_db_option(cmd)
        cmd.set_defaults(func=func)


def _lists_parser(sub: Any) -> None:
    p = sub.add_parser(
        "lists", help="block/allow lists: check, import into and export from the database"
    )
    ls = p.add_subparsers(dest="lists_command", metavar="COMMAND", required=True)
    c = ls.add_parser("check", help="validate a list file and print it normalised")
    c.add_argument("list_file", metavar="LIST.csv")
    c.set_defaults(func=run_lists_check)
    from rongpay.cli.common import add_db_option

    i = ls.add_parser("import", help="add a list file's entries to the database")
    i.add_argument("list_file", metavar="LIST.csv")
    add_db_option(i)
    i.set_defaults(func=run_lists_import)
    e = ls.add_parser("export", help="write the database's lists in the list format")
    e.add_argument("--out", metavar="LIST.csv", help="file to write (default: stdout)")
    add_db_option(e)
    e.set_defaults(func=run_lists_export)


def _profile_parser(sub: Any) -> None:
    p = sub.add_parser("profile", help="an account's habits from a saved feature state")
    p.add_argument("account")
    p.add_argument("--state", required=True, metavar="STATE.json")
    p.set_defaults(func=run_profile)


# loading ------------------------------------------------------------------------------------
def _existing(path: str, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise CliError(f"{what} {path} not found")
    return p


def _load_model(args: argparse.Namespace) -> Any:
    from rongpay.risk.errors import ModelFileError
    from rongpay.risk.model import Model

    if getattr(args, "no_model", False):
        if getattr(args, "model", None):
            raise CliError("--model and --no-model exclude each other")
        return None
    try:
        return Model.load(Path(args.model) if args.model else None)
    except ModelFileError as exc:
        raise CliError(exc.message) from None


def _load_rules(path: str | None) -> Any:
    from rongpay.risk.errors import RuleSyntaxError
    from rongpay.risk.rules import parse_rules

    if path is None:
        return None
    source = _read_text(_existing(path, "rules file"))
    try:
        return parse_rules(source)
    except RuleSyntaxError as exc:
        raise CliError(f"{path}:{exc.message}") from None


def _load_lists(path: str | None, db: str | None = None) -> Any:
    from rongpay.risk.errors import ListFormatError
    from rongpay.risk.lists import Lists, read_entries

    lists = Lists(_db_entries(db) if db else ())
    if path is None:
        return lists
    text = _read_text(_existing(path, "list file"))
    try:
        for entry in read_entries(text):
            lists.add(entry)
    except ListFormatError as exc:
        raise CliError(f"{path}: {exc.message}") from None
    return lists


def _db_entries(url: str) -> Any:
    from rongpay.risk.store import export_entries

    return export_entries(_open_db(url))


def _open_db(url: str | None) -> Any:
    """The migrated Engine (disposed when the command ends: rongpay.cli.common)."""
    from rongpay.cli.common import open_engine

    return open_engine(url)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None


class RejectReporter:
    """Names each rejected line on stderr (the first MAX_REPORTED_LINES), counts them all."""

    def __init__(self, source: str) -> None:
        self.source, self.count = source, 0

    def __call__(self, rejected: Any) -> None:
        self.count += 1
        if self.count <= MAX_REPORTED_LINES:
            err = rejected.error
            print(
                f"rongpay: {self.source}:{rejected.line_no}: {err.message} [{err.code}]",
                file=sys.stderr,
            )

    def finish(self, processed: int) -> int:
        if not self.count:
            return 0
        more = self.count - MAX_REPORTED_LINES
        if more > 0:
            print(f"rongpay: ... and {more} more rejected lines", file=sys.stderr)
        print(f"rongpay: {self.count} line(s) rejected, {processed} processed", file=sys.stderr)
        return EXIT_PARTIAL


# commands -----------------------------------------------------------------------------------
def run_score(args: argparse.Namespace) -> int:
    from rongpay.risk.engine import RiskEngine
    from rongpay.risk.errors import StateFileError
    from rongpay.risk.service import score_file

    stdin = args.events == "-"
    events: Any = sys.stdin.buffer if stdin else _existing(args.events, "events file")
    lists = _load_lists(args.lists, args.db)
    engine = RiskEngine(_load_model(args), _score_rules(args), lists)
    try:
        if args.state:
            from rongpay.risk.snapshot import load_state

            engine.state = load_state(Path(args.state))
        reporter = RejectReporter("<stdin>" if stdin else args.events)
        out = sys.stdout.buffer
        summary = score_file(engine, events, out.write, reporter)
        out.flush()
        if args.state:
            from rongpay.risk.snapshot import save_state

            save_state(engine.state, Path(args.state))
    except StateFileError as exc:
        raise CliError(exc.message) from None
    return reporter.finish(summary.scored)


def _score_rules(args: argparse.Namespace) -> Any:
    """--rules FILE; else --rules-version N; else, with --db, the active version (and shadow)."""
    if args.rules is not None:
        if args.rules_version is not None:
            raise CliError("--rules and --rules-version exclude each other")
        return _load_rules(args.rules)
    if args.rules_version is None and args.db is None:
        return None
    return _published(_open_db(args.db), args.rules_version)


def _published(db: Any, version: int | None) -> Any:
    from rongpay.risk.errors import RuleSyntaxError, RuleVersionError
    from rongpay.risk.service import published_rules

    try:
        return published_rules(db, version)
    except RuleVersionError as exc:
        raise CliError(f"{exc.message} [{exc.code}]") from None
    except RuleSyntaxError as exc:  # only if the grammar changed since it was published
        raise CliError(f"published rules version {version}: {exc.message}") from None


def run_train(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.risk.dataset import load_labelled
    from rongpay.risk.train import TrainConfig, train

    events = _existing(args.events, "events file")
    if not 10 <= args.trees <= 1000:
        raise CliError("--trees must be between 10 and 1000")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise CliError(f"cannot write {out}: directory {out.parent} does not exist")
    ds = load_labelled(events)
    if ds.rejected:
        print(
            f"rongpay: {ds.rejected} bad line(s) skipped (check them with rongpay risk score)",
            file=sys.stderr,
        )
    if len(ds.ids) == 0:
        raise CliError(f"{args.events} has no usable events")
    meta = {"version": args.version, "source": events.name, "seed": args.seed}
    try:
        model, report = train(ds, TrainConfig(seed=args.seed, max_iter=args.trees), meta)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    out.write_bytes(orjson.dumps(model.doc))
    print(orjson.dumps({"model": str(out), "version": model.version, **report}).decode())
    return 1 if ds.rejected else 0


def run_eval(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.risk.engine import RiskEngine
    from rongpay.risk.evaluate import evaluate

    events = _existing(args.events, "events file")
    if args.holdout_days is not None and args.holdout_days <= 0:
        raise CliError("--holdout-days must be positive")
    model = _load_model(args)
    engine = RiskEngine(model, _load_rules(args.rules), _load_lists(args.lists, args.db))
    reporter = RejectReporter(args.events)
    report = evaluate(engine, events, args.holdout_days, reporter)
    report["model_version"] = model.version if model else None
    if args.json:
        print(orjson.dumps(report).decode())
    else:
        _print_eval(report)
    return reporter.finish(report["events_scored"])


def _print_eval(report: dict[str, Any]) -> None:
    cols = ("auprc", "baseline_amount_auprc", "auprc_vs_baseline", "recall_at_1pct_fpr",
            "flagged_precision", "flagged_recall")  # fmt: skip
    print(
        f"model {report['model_version']}, {report['events_scored']} events scored, "
        f"holdout_days={report['holdout_days']}"
    )
    print(f"{'':20} {'events':>8} {'fraud':>6} " + " ".join(f"{c[:18]:>18}" for c in cols))
    rows = [("overall", report["overall"]), *report["by_fraud_type"].items()]
    for name, m in rows:
        vals = " ".join(f"{_fmt(m[c]):>18}" for c in cols)
        print(f"{name:20} {m['events']:>8} {m['fraud_events']:>6} {vals}")
    print("decisions: " + ", ".join(f"{k}={v}" for k, v in report["decisions"].items()))


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def run_backtest(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.risk.backtest import backtest

    rules = _load_rules(args.rules_file)
    events = _existing(args.events, "events file")
    reporter = RejectReporter(args.events)
    lists = _load_lists(args.lists, args.db)
    report = backtest(rules, _load_model(args), lists, events, reporter)
    if args.json:
        print(orjson.dumps(report).decode())
    else:
        print(
            f"rules version {report['rules_version']}, {report['events']} events, "
            f"fraud {report['fraud_events']}"
        )
        for r in report["rules"]:
            tag = "shadow " if r["shadow"] else ""
            print(f"  {tag}{r['name']} => {r['action']}: {r['hits']} hits, "
                  f"{r['fraud_hits']} on fraud, precision {_fmt(r['precision'])}")  # fmt: skip
        for key in ("without_rules", "with_rules"):
            s = report[key]
            print(
                f"{key}: flagged {s['flagged']}, precision {_fmt(s['precision'])}, "
                f"recall {_fmt(s['recall'])}"
            )
    return reporter.finish(report["events"])


def run_rules_check(args: argparse.Namespace) -> int:
    rules = _load_rules(args.rules_file)
    live = sum(1 for r in rules.rules if not r.shadow)
    print(
        f"{args.rules_file}: version {rules.version}, {live} live rule(s), "
        f"{len(rules.rules) - live} shadow rule(s), "
        f"{len(rules.merchant_thresholds)} merchant threshold(s)"
    )
    return 0


def run_rules_default(args: argparse.Namespace) -> int:
    from importlib import resources

    sys.stdout.write(
        resources.files("rongpay.risk").joinpath("default_rules.txt").read_text(encoding="utf-8")
    )
    return 0


def run_rules_publish(args: argparse.Namespace) -> int:
    from rongpay.risk.errors import RuleVersionError
    from rongpay.risk.store import publish_rules

    rules = _load_rules(args.rules_file)
    source = _read_text(Path(args.rules_file))
    try:
        stored = publish_rules(_open_db(args.db), rules.version, source, args.note)
    except RuleVersionError as exc:
        raise CliError(f"{exc.message} [{exc.code}]") from None
    state = "published" if stored else "already published (same text)"
    print(f"rules version {rules.version}: {state}")
    return 0


def run_rules_list(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.risk.store import list_rule_versions

    versions = list_rule_versions(_open_db(args.db))
    if args.json:
        for v in versions:
            print(orjson.dumps({"version": v.version, "sha256": v.sha256, "note": v.note,
                                "published_at": v.published_at,
                                "roles": list(v.roles)}).decode())  # fmt: skip
        return 0
    if not versions:
        print("no published rules versions")
    for v in versions:
        roles = f" [{', '.join(v.roles)}]" if v.roles else ""
        note = f"  {v.note}" if v.note else ""
        print(f"{v.version:>6}  {v.published_at}  {v.sha256[:12]}{roles}{note}")
    return 0


def run_rules_show(args: argparse.Namespace) -> int:
    from rongpay.risk.errors import RuleVersionError
    from rongpay.risk.store import rule_source

    try:
        sys.stdout.write(rule_source(_open_db(args.db), args.version))
    except RuleVersionError as exc:
        raise CliError(f"{exc.message} [{exc.code}]") from None
    return 0


def _set_role(args: argparse.Namespace, role: str, version: int | None) -> None:
    from rongpay.risk.errors import RuleVersionError
    from rongpay.risk.store import set_rule_role

    try:
        set_rule_role(_open_db(args.db), role, version)
    except RuleVersionError as exc:
        raise CliError(f"{exc.message} [{exc.code}]") from None


def run_rules_activate(args: argparse.Namespace) -> int:
    _set_role(args, "active", args.version)
    print(f"rules version {args.version} is active")
    return 0


def run_rules_shadow(args: argparse.Namespace) -> int:
    if args.clear == (args.version is not None):
        raise CliError("give a version N to shadow, or --clear")
    _set_role(args, "shadow", args.version)
    print("no shadow rules" if args.clear else f"rules version {args.version} runs in shadow")
    return 0


def run_rules_backtest(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.risk.backtest import compare

    db = _open_db(args.db)
    a, b = _published(db, args.a), _published(db, args.b)
    events = _existing(args.events, "events file")
    reporter = RejectReporter(args.events)
    report = compare(a, b, _load_model(args), _load_lists(args.lists), events, reporter)
    if args.json:
        print(orjson.dumps(report).decode())
        return reporter.finish(report["events"])
    print(f"{report['events']} events, {report['fraud_events']} fraud")
    for side in ("a", "b"):
        s = report[side]
        print(f"  version {s['rules_version']}: flagged {s['flagged']}, precision "
              f"{_fmt(s['precision'])}, recall {_fmt(s['recall'])}")  # fmt: skip
    moves = ", ".join(f"{k} {v}" for k, v in report["changed_by_transition"].items())
    print(
        f"  decisions changed from A to B: {report['changed']}" + (f" ({moves})" if moves else "")
    )
    return reporter.finish(report["events"])


def run_lists_check(args: argparse.Namespace) -> int:
    from rongpay.risk.lists import write_entries

    lists = _load_lists(args.list_file)
    sys.stdout.write(write_entries(lists.entries.values()))
    print(f"{args.list_file}: {len(lists)} entries", file=sys.stderr)
    return 0


def run_lists_import(args: argparse.Namespace) -> int:
    from rongpay.risk.store import import_entries

    lists = _load_lists(args.list_file)
    added, updated = import_entries(_open_db(args.db), lists.entries.values())
    print(f"imported {args.list_file}: {added} added, {updated} updated")
    return 0


def run_lists_export(args: argparse.Namespace) -> int:
    from rongpay.risk.lists import write_entries
    from rongpay.risk.store import export_entries

    text = write_entries(export_entries(_open_db(args.db)))
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {args.out}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    return 0


def run_profile(args: argparse.Namespace) -> int:
    import orjson

    from rongpay.risk.errors import StateFileError
    from rongpay.risk.profile import profile
    from rongpay.risk.snapshot import load_state

    try:
        state = load_state(_existing(args.state, "state file"))
    except StateFileError as exc:
        raise CliError(exc.message) from None
    found = profile(state, args.account)
    if found is None:
        raise CliError(f"account {args.account!r} is not in {args.state}", exit_code=1)
    print(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode())
    return 0


def run_bench(args: argparse.Namespace) -> int:
    import tempfile

    import orjson

    from rongpay.risk import bench
    from rongpay.risk.rules import parse_rules
    from rongpay.sim.generator import SimConfig, generate

    if not 100 <= args.events <= bench.MAX_EVENTS:
        raise CliError(f"--events must be between 100 and {bench.MAX_EVENTS}")
    model = _load_model(argparse.Namespace(model=args.model, no_model=False))
    rules = _load_rules(args.rules) if args.rules else parse_rules(_default_rules())
    days = 14
    customers = max(50, int(args.events / (1.6 * days)))
    cfg = SimConfig(
        days=days, customers=customers, merchants=max(10, customers // 10), seed=args.seed
    )
    with tempfile.TemporaryDirectory(prefix="rongpay-bench-") as tmp:
        path = Path(tmp) / "events.jsonl"
        with path.open("wb") as fh:
            for n, record in enumerate(generate(cfg), start=1):
                fh.write(orjson.dumps(record) + b"\n")
                if n >= args.events:
                    break
        result = bench.run(path, model, rules)
    if args.json:
        print(orjson.dumps(result).decode())
    else:
        print(
            f"risk bench on {result['events']} events (model {result['model_version']}, "
            f"rules v{result['rules_version']})"
        )
        for label, prefix in (("model+rules", ""), ("rules only ", "rules_only_")):
            p50, p99 = result[prefix + "latency_ms_p50"], result[prefix + "latency_ms_p99"]
            rate, cpu = result[prefix + "events_per_s"], result[prefix + "events_per_cpu_s"]
            print(f"  {label}: p50 {p50} ms, p99 {p99} ms, {rate} events/s ({cpu} per CPU second)")
    return 0


def _default_rules() -> str:
    from importlib import resources

    return resources.files("rongpay.risk").joinpath("default_rules.txt").read_text(encoding="utf-8")
