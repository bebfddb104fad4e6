"""Regulatory reports as structured JSON (each with a published JSON Schema) plus readable HTML.

- Suspicious transaction report (STR), one per case: subjects, alerts, the transactions in
  evidence, the analysts' narrative and the case's action log. Schema: `schemas/str.schema.json`.
- Daily large-value transaction report (LVTR): every transaction of one day (Beijing time by
  default) at or above the reporting threshold (50,000 CNY or its equivalent).
  Schema: `schemas/lvtr.schema.json`.
- Complaints report over a period: counts, overdue and late ones, each complaint.
  Schema: `schemas/complaints.schema.json`.

Every generated report is stored whole in `compliance_reports` with its SHA-256, and an STR
is also an action in its case's log. With an output directory, the files are written inside
the same unit of work: when they cannot be written, nothing is recorded and no report id is
used up (ReportWriteError).
"""

from __future__ import annotations

import hashlib
import html
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import Engine

from rongpay.compliance import store
from rongpay.compliance.aml_params import LargeValueParams
from rongpay.compliance.cases import Action, _actor, get_case, next_id, record
from rongpay.compliance.complaints import complaints_received
from rongpay.compliance.errors import EventFormatError, InvalidInput, ReportWriteError
from rongpay.compliance.events import read_events
from rongpay.compliance.reference import to_cny_minor
from rongpay.store.uow import unit_of_work

SCHEMAS = Path(__file__).parent / "schemas"
INSTITUTION = {"name": "rongpay demo payment institution", "code": "RONGPAY-DEMO"}
SCHEMA_IDS = {
    "str": "https://rongpay.dev/schemas/compliance/str.schema.json",
    "lvtr": "https://rongpay.dev/schemas/compliance/lvtr.schema.json",
    "complaints": "https://rongpay.dev/schemas/compliance/complaints.schema.json",
}
MAX_LVTR_ROWS = 1_000_000
EVENT_FIELDS = (
    "id",
    "ts",
    "type",
    "amount_minor",
    "currency",
    "payer",
    "payee",
    "payer_country",
    "payee_country",
    "channel",
)


def rfc3339(ts_s: int) -> str:
    return datetime.fromtimestamp(ts_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _save(
    engine: Engine,
    kind: str,
    prefix: str,
    body: dict[str, Any],
    by: str,
    case_id: str | None,
    out_dir: str | Path | None,
) -> None:
    """Give BODY its report id, store it (an STR also in its case's log) and write its files
    to OUT_DIR, all in one unit of work: a write failure records nothing and uses no id."""
    written: list[Path] = []
    try:
        with unit_of_work(engine) as conn:
            body["report_id"] = next_id(conn, f"report_{prefix.lower()}", prefix)
            text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()
            conn.execute(
                store.reports.insert().values(
                    id=body["report_id"],
                    kind=kind,
                    case_id=case_id,
                    created_by=by,
                    created_at=int(time.time()),
                    sha256=hashlib.sha256(text.encode()).hexdigest(),
                    body=text,
                )
            )
            if case_id is not None:
                record(conn, case_id, by, Action.REPORT, report_id=body["report_id"], kind=kind)
            if out_dir is not None:
                written.extend(write_report(body, out_dir))
    except BaseException:
        for path in written:  # the commit failed after the files were written
            path.unlink(missing_ok=True)
        raise


def suspicious_transaction_report(
    engine: Engine, case_id: str, *, by: str, out_dir: str | Path | None = None
) -> dict[str, Any]:
    """The STR of a case (any status but closed as false positive), stored, logged, and
    written to OUT_DIR when given. Each transaction appears once, however often attached."""
    actor = _actor(by)
    case_file = get_case(engine, case_id)
    case = case_file.case
    if case.status == "closed_false_positive":
        raise InvalidInput(f"case {case_id} was closed as a false positive: nothing to report")
    by_id: dict[str, dict[str, Any]] = {}
    for e in case_file.evidence:
        if e["kind"] == "transaction":
            by_id.setdefault(str(e["ref"]), _transaction(e["data"]))
    transactions = list(by_id.values())
    notes = [a["detail"].get("text", "") for a in case_file.actions if a["action"] == "note"]
    subjects = {case.subject: "subject"}
    for alert in case_file.alerts:
        for account in alert["accounts"]:
            subjects.setdefault(account, "counterparty")
    body = {
        "$schema": SCHEMA_IDS["str"],
        "report_type": "suspicious_transaction_report",
        "report_id": "",  # given by _save
        "generated_at": rfc3339(int(time.time())),
        "generated_by": actor,
        "reporting_institution": INSTITUTION,
        "case": _case_for_report(case.to_json()),
        "subjects": [{"account": a, "role": r} for a, r in subjects.items()],
        "suspicion": {
            "scenarios": sorted({a["scenario"] for a in case_file.alerts}),
            "alerts": [
                {k: a[k] for k in ("alert_id", "scenario", "score", "summary")}
                for a in case_file.alerts
            ],
            "narrative": "\n\n".join(n for n in notes if n) or case.title,
        },
        "transactions": transactions,
        "total_cny_minor": sum(t["amount_cny_minor"] or 0 for t in transactions),
        "actions": [
            {"at": rfc3339(a["at"]), "actor": a["actor"], "action": a["action"]}
            for a in case_file.actions
        ],
    }
    _save(engine, "str", "STR", body, actor, case_id, out_dir)
    return body


def _case_for_report(case: dict[str, Any]) -> dict[str, Any]:
    """The case as a regulator reads it: times in RFC 3339 UTC, like the rest of the report."""
    for key in ("opened_at", "closed_at"):
        if case.get(key) is not None:
            case[key] = rfc3339(int(case[key]))
    return case


def _transaction(raw: Mapping[str, Any]) -> dict[str, Any]:
    row = {k: raw.get(k) for k in EVENT_FIELDS}
    try:
        row["amount_cny_minor"] = to_cny_minor(int(raw["amount_minor"]), str(raw["currency"]))
    except (KeyError, TypeError, ValueError):
        row["amount_cny_minor"] = None
    return row


def large_value_report(
    engine: Engine | None,
    lines: Iterable[bytes],
    day: date,
    *,
    by: str,
    utc_offset_h: int = 8,
    params: LargeValueParams | None = None,
    out_dir: str | Path | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The LVTR for DAY (local date at UTC+UTC_OFFSET_H) and the bad lines met on the way;
    stored when ENGINE is given, written to OUT_DIR when given."""
    actor = _actor(by)
    if not -12 <= utc_offset_h <= 14:
        raise InvalidInput("UTC offset must be between -12 and +14 hours")
    threshold = (params or LargeValueParams()).report_cny_minor
    tz = timezone(timedelta(hours=utc_offset_h))
    start = int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())
    end = start + 86_400
    rows: list[dict[str, Any]] = []
    bad: list[str] = []
    for item in read_events(lines):
        if isinstance(item, EventFormatError):
            bad.append(item.message)
            continue
        if start <= item.ts_s < end and item.amount_cny_minor >= threshold:
            if len(rows) >= MAX_LVTR_ROWS:
                raise InvalidInput(f"more than {MAX_LVTR_ROWS} large-value transactions in a day")
            rows.append(_lvtr_row(item))
    body = {
        "$schema": SCHEMA_IDS["lvtr"],
        "report_type": "large_value_transaction_report",
        "report_id": f"LVTR-{day.isoformat()}",  # numbered by _save when stored
        "report_date": day.isoformat(),
        "utc_offset": f"{utc_offset_h:+03d}:00",
        "threshold_cny_minor": threshold,
        "generated_at": rfc3339(int(time.time())),
        "generated_by": actor,
        "reporting_institution": INSTITUTION,
        "transactions": rows,
        "totals": {
            "count": len(rows),
            "amount_cny_minor": sum(r["amount_cny_minor"] for r in rows),
        },
    }
    if engine is not None:
        _save(engine, "lvtr", "LVTR", body, actor, None, out_dir)
    elif out_dir is not None:
        write_report(body, out_dir)
    return body, bad


def _lvtr_row(e: Any) -> dict[str, Any]:
    return {
        "id": e.id,
        "ts": rfc3339(e.ts_s),
        "type": e.type,
        "amount_minor": e.amount_minor,
        "currency": e.currency,
        "amount_cny_minor": e.amount_cny_minor,
        "payer": e.payer,
        "payee": e.payee,
        "payer_country": e.payer_country,
        "payee_country": e.payee_country,
        "channel": e.channel,
        "cross_border": bool(
            e.payer_country and e.payee_country and e.payer_country != e.payee_country
        ),
    }


def complaints_report(
    engine: Engine, since: date, until: date, *, by: str, out_dir: str | Path | None = None
) -> dict[str, Any]:
    """Every complaint received in [SINCE, UNTIL) (UTC dates), with counts; stored, and
    written to OUT_DIR when given."""
    actor = _actor(by)
    if until <= since:
        raise InvalidInput("the period must end after it starts")
    lo = int(datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp())
    hi = int(datetime(until.year, until.month, until.day, tzinfo=UTC).timestamp())
    now = int(time.time())
    items = complaints_received(engine, since_s=lo, until_s=hi)
    body = {
        "$schema": SCHEMA_IDS["complaints"],
        "report_type": "complaints_report",
        "report_id": "",  # given by _save
        "period": {"from": since.isoformat(), "to": until.isoformat()},
        "generated_at": rfc3339(now),
        "generated_by": actor,
        "reporting_institution": INSTITUTION,
        "counts": {
            "received": len(items),
            "resolved": sum(c.status == "resolved" for c in items),
            "open": sum(c.status != "resolved" for c in items),
            "overdue": sum(c.overdue(now) for c in items),
            "resolved_late": sum(c.resolved_late() for c in items),
        },
        "by_category": dict(sorted(Counter(c.category for c in items).items())),
        "complaints": [c.to_json(now) for c in items],
    }
    _save(engine, "complaints", "CMPR", body, actor, None, out_dir)
    return body


def render_html(report: Mapping[str, Any]) -> str:
    """A readable, self-contained HTML page of any of the reports above."""
    title = str(report["report_type"]).replace("_", " ").title()
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)} {html.escape(str(report['report_id']))}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:4px 8px;text-align:left;vertical-align:top}"
        "th{background:#eee}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for key, value in report.items():
        if key == "$schema":
            continue
        parts.append(f"<h2>{html.escape(key.replace('_', ' '))}</h2>")
        parts.append(_html_value(value))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_value(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = list(dict.fromkeys(k for v in value for k in v))
        head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
        rows = "".join(
            "<tr>" + "".join(f"<td>{_html_cell(v.get(k))}</td>" for k in keys) + "</tr>"
            for v in value
        )
        return f"<table><tr>{head}</tr>{rows}</table>"
    if isinstance(value, dict):
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{_html_value(v)}</td></tr>"
            for k, v in value.items()
        )
        return f"<table>{rows}</table>"
    return _html_cell(value)


def _html_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return html.escape(orjson.dumps(value).decode())
    return html.escape(str(value)).replace("\n", "<br>")


def report_paths(report_id: str, out_dir: str | Path) -> tuple[Path, Path]:
    """Where write_report puts REPORT_ID: (OUT_DIR/REPORT_ID.json, OUT_DIR/REPORT_ID.html)."""
    out = Path(out_dir)
    return out / f"{report_id}.json", out / f"{report_id}.html"


def write_report(report: Mapping[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """REPORT_ID.json and REPORT_ID.html in OUT_DIR: both or neither (ReportWriteError)."""
    out = Path(out_dir)
    if not out.is_dir():
        raise ReportWriteError(f"{out} is not a directory")
    json_path, html_path = report_paths(str(report["report_id"]), out)
    done: list[Path] = []
    try:
        for path, data in (
            (json_path, orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n"),
            (html_path, render_html(report).encode("utf-8")),
        ):
            path.write_bytes(data)
            done.append(path)
    except OSError as exc:
        for path in done:
            path.unlink(missing_ok=True)
        raise ReportWriteError(
            f"{exc.filename or out}: cannot write the report: {exc.strerror or exc}"
        ) from exc
    return json_path, html_path
