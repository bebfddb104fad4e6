"""Reports on both engines: STR per case, daily LVTR, complaints; valid against their schemas."""

from __future__ import annotations

from datetime import date

import pytest

from rongpay.compliance import cases, complaints
from rongpay.compliance.cases import Outcome
from rongpay.compliance.errors import InvalidInput, WorkflowError
from rongpay.compliance.reports import (
    complaints_report,
    large_value_report,
    render_html,
    suspicious_transaction_report,
    write_report,
)

from .factories import ev, jsonl
from .schema_check import validate
from .test_cases import ALERT, EVENTS


def test_str_report_valid_and_logged(engine, tmp_path):
    (case_id,) = cases.import_alerts(engine, [ALERT], by="system", events=EVENTS)
    cases.start(engine, case_id, by="ana")
    cases.add_note(engine, case_id, by="ana", text="Round trip <b>in</b> 9 hours")
    report = suspicious_transaction_report(engine, case_id, by="ana")
    assert validate(report, "str.schema.json") == []
    assert report["total_cny_minor"] == 3 * 8_000_000
    assert report["case"]["opened_at"].endswith("Z") and report["case"]["closed_at"] is None
    assert report["suspicion"]["narrative"] == "Round trip <b>in</b> 9 hours"
    assert {s["account"] for s in report["subjects"]} == {"a", "b", "c"}
    log = [a["action"] for a in cases.get_case(engine, case_id).actions]
    assert log[-1] == "report_generated"
    json_path, html_path = write_report(report, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "&lt;b&gt;in&lt;/b&gt;" in page and "<b>in</b>" not in page
    assert json_path.name == f"{report['report_id']}.json"


def test_no_str_for_false_positive(engine):
    (case_id,) = cases.import_alerts(engine, [ALERT], by="system")
    cases.start(engine, case_id, by="ana")
    cases.close(engine, case_id, by="bob", outcome=Outcome.FALSE_POSITIVE, reason="ok")
    with pytest.raises(InvalidInput):
        suspicious_transaction_report(engine, case_id, by="ana")


def test_lvtr_lists_the_days_large_transactions(engine):
    # T0 is 2026-11-01 00:00 UTC = 08:00 Beijing time
    events = [
        ev(0, "transfer", 60_000, "a", "b"),
        ev(1, "topup", 49_999, "c"),
        ev(2, "withdrawal", 9_000, "d", currency="USD"),  # 63,900 CNY
        ev(17, "transfer", 70_000, "e", "f"),  # 01:00 on 2 November, Beijing
    ]
    lines = [*jsonl(events).splitlines(keepends=True), b"{broken\n"]
    report, bad = large_value_report(engine, lines, date(2026, 11, 1), by="ops")
    assert validate(report, "lvtr.schema.json") == []
    assert [r["amount_cny_minor"] for r in report["transactions"]] == [6_000_000, 6_390_000]
    assert report["totals"]["count"] == 2 and len(bad) == 1 and "line 5" in bad[0]
    utc, _ = large_value_report(None, lines, date(2026, 11, 1), by="ops", utc_offset_h=0)
    assert utc["totals"]["count"] == 3


def test_complaints_deadlines_and_report(engine):
    day = 86_400
    start = 1_793_491_200  # 2026-11-01 UTC
    first = complaints.open_complaint(
        engine,
        customer="acct_1",
        category="fees",
        description="charged twice",
        channel="app",
        by="desk",
        received_at=start,
    )
    second = complaints.open_complaint(
        engine,
        customer="acct_2",
        category="refund",
        description="refund missing",
        channel="phone",
        by="desk",
        received_at=start + day,
        deadline_days=5,
    )
    complaints.take(engine, first.id, by="ops")
    complaints.resolve(engine, first.id, by="ops", resolution="refunded", at=start + 20 * day)
    with pytest.raises(WorkflowError):
        complaints.resolve(engine, first.id, by="ops", resolution="again")
    report = complaints_report(engine, date(2026, 11, 1), date(2026, 12, 1), by="ops")
    assert validate(report, "complaints.schema.json") == []
    assert report["counts"] == {
        "received": 2,
        "resolved": 1,
        "open": 1,
        "overdue": 1,
        "resolved_late": 1,
    }
    assert report["by_category"] == {"fees": 1, "refund": 1}
    actions = [a["action"] for a in complaints.complaint_actions(engine, first.id)]
    assert actions == ["received", "taken", "resolved"]
    assert second.due_at == second.received_at + 5 * day


@pytest.mark.parametrize(
    "kwargs",
    [
        {"category": "weather"},
        {"channel": "pigeon"},
        {"description": " "},
        {"deadline_days": 0},
    ],
)
def test_complaint_bad_input(engine, kwargs):
    base = {
        "customer": "c",
        "category": "fees",
        "description": "x",
        "channel": "app",
        "by": "desk",
    }
    with pytest.raises(InvalidInput):
        complaints.open_complaint(engine, **{**base, **kwargs})


def test_render_html_escapes_everything():
    page = render_html({"report_type": "x_y", "report_id": "<id>", "rows": [{"a": "<script>"}]})
    assert "<script>" not in page and "&lt;script&gt;" in page
