"""The compliance_0001 migration creates exactly the tables store.py describes (both engines)."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from rongpay.compliance import cases, store
from rongpay.compliance.errors import WorkflowError

from .test_cases import ALERT

TABLES = [
    store.alerts,
    store.cases,
    store.case_actions,
    store.evidence,
    store.complaints,
    store.complaint_actions,
    store.reports,
    store.counters,
]


def test_migration_matches_metadata(engine):
    inspector = sa.inspect(engine)
    for table in TABLES:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name


def test_two_analysts_racing_to_start_one_case(engine):
    (case_id,) = cases.import_alerts(engine, [ALERT], by="system")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def race(who: str) -> None:
        barrier.wait()
        try:
            cases.start(engine, case_id, by=who)
            outcomes.append("started")
        except WorkflowError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=race, args=(f"analyst{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["invalid_transition"] * 3 + ["started"]
    started = [a for a in cases.get_case(engine, case_id).actions if a["action"] == "started"]
    assert len(started) == 1
