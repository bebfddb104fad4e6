"""Cases on both engines: alerts become cases, workflow rules, four eyes, every action logged."""

from __future__ import annotations

import pytest

from rongpay.compliance import cases
from rongpay.compliance.cases import CaseStatus, Outcome
from rongpay.compliance.errors import InvalidInput, NotFound, WorkflowError

ALERT = {
    "alert_id": "aml_1",
    "scenario": "cycle",
    "accounts": ["a", "b", "c"],
    "transactions": ["t1", "t2", "t3"],
    "score": 0.8,
    "summary": "3 accounts, 80,000.00 CNY back to a",
}
EVENTS = {
    f"t{i}": {
        "id": f"t{i}",
        "ts": "2026-11-01T00:00:00Z",
        "type": "transfer",
        "amount_minor": 8_000_000,
        "currency": "CNY",
        "payer": p,
        "payee": q,
    }
    for i, (p, q) in enumerate([("a", "b"), ("b", "c"), ("c", "a")], start=1)
}


def _open(engine) -> str:
    (case_id,) = cases.import_alerts(engine, [ALERT], by="system", events=EVENTS)
    return case_id


def test_alert_becomes_case_with_evidence_and_graph(engine):
    case_id = _open(engine)
    assert case_id == "CASE-000001"
    assert cases.import_alerts(engine, [ALERT], by="system") == [], "re-import is harmless"
    case_file = cases.get_case(engine, case_id)
    assert case_file.case.status is CaseStatus.OPEN and case_file.case.subject == "a"
    kinds = [e["kind"] for e in case_file.evidence]
    assert kinds.count("transaction") == 3 and kinds.count("graph") == 1
    graph = next(e["data"] for e in case_file.evidence if e["kind"] == "graph")
    assert {n["id"] for n in graph["nodes"]} == {"a", "b", "c"} and len(graph["edges"]) == 3
    assert [a["action"] for a in case_file.actions] == ["opened", "evidence"]


def test_full_workflow_with_four_eyes(engine):
    case_id = _open(engine)
    cases.assign(engine, case_id, to="ana", by="lead")
    with pytest.raises(WorkflowError) as exc:
        cases.start(engine, case_id, by="bob")
    assert exc.value.code == "not_assignee"
    cases.start(engine, case_id, by="ana")
    cases.add_note(engine, case_id, by="ana", text="Funds went round in 9 hours.")
    cases.escalate(engine, case_id, by="ana", reason="needs MLRO")
    with pytest.raises(WorkflowError) as exc:
        cases.close(engine, case_id, by="ana", outcome=Outcome.REPORTED, reason="report it")
    assert exc.value.code == "four_eyes"
    closed = cases.close(engine, case_id, by="mlro", outcome=Outcome.REPORTED, reason="filed")
    assert closed.status is CaseStatus.CLOSED_REPORTED and closed.closed_by == "mlro"
    actions = [a["action"] for a in cases.get_case(engine, case_id).actions]
    assert actions == [
        "opened",
        "evidence",
        "assigned",
        "started",
        "note",
        "escalated",
        "close_refused",
        "closed",
    ]
    with pytest.raises(WorkflowError) as exc:
        cases.add_note(engine, case_id, by="x", text="late")
    assert exc.value.code == "case_closed"


def test_close_false_positive_and_transition_rules(engine):
    case_id = _open(engine)
    with pytest.raises(WorkflowError) as exc:
        cases.close(engine, case_id, by="x", outcome=Outcome.FALSE_POSITIVE, reason="fine")
    assert exc.value.code == "invalid_transition", "an open case was never investigated"
    with pytest.raises(WorkflowError):
        cases.escalate(engine, case_id, by="x", reason="r")
    cases.start(engine, case_id, by="ana")
    with pytest.raises(WorkflowError):
        cases.start(engine, case_id, by="ana")
    done = cases.close(engine, case_id, by="bob", outcome=Outcome.FALSE_POSITIVE, reason="payroll")
    assert done.status is CaseStatus.CLOSED_FALSE_POSITIVE
    assert [c.id for c in cases.list_cases(engine, status=CaseStatus.CLOSED_FALSE_POSITIVE)] == [
        case_id
    ]
    assert cases.list_cases(engine, status=CaseStatus.OPEN) == []


def test_bad_input(engine):
    with pytest.raises(NotFound):
        cases.get_case(engine, "CASE-999999")
    with pytest.raises(InvalidInput):
        cases.import_alerts(engine, [{"alert_id": "x"}], by="system")
    case_id = _open(engine)
    with pytest.raises(InvalidInput):
        cases.add_note(engine, case_id, by="ana", text="   ")
    with pytest.raises(InvalidInput):
        cases.assign(engine, case_id, to="", by="lead")
    with pytest.raises(InvalidInput):
        cases.parse_status("done")


def test_new_alerts_on_a_worked_subject_join_its_case(engine):
    case_id = _open(engine)
    second = {**ALERT, "alert_id": "aml_2", "scenario": "pass_through", "transactions": ["t2"]}
    assert cases.import_alerts(engine, [second], by="system", events=EVENTS) == []
    case_file = cases.get_case(engine, case_id)
    assert [a["alert_id"] for a in case_file.alerts] == ["aml_1", "aml_2"]
    assert "alert_added" in [a["action"] for a in case_file.actions]
    cases.start(engine, case_id, by="ana")
    cases.close(engine, case_id, by="bob", outcome=Outcome.FALSE_POSITIVE, reason="ok")
    third = {**ALERT, "alert_id": "aml_3"}
    assert cases.import_alerts(engine, [third], by="system") == ["CASE-000002"]
