"""Alerts become cases: assignment, notes, evidence, statuses, four-eyes closing.

Workflow (any other move is refused with a WorkflowError and a stable code):

    open --start--> investigating --escalate--> escalated
      investigating | escalated --close(reported | false_positive)--> closed_*

`start` makes the caller the investigator. `close` must come from someone else (four eyes):
the closer is never the investigator. Closed cases take no more notes, evidence or moves.
Every action, including refused closings, is a row in `compliance_case_actions`.
Each use case is one unit of work; the case row is locked (SELECT ... FOR UPDATE on
PostgreSQL, BEGIN IMMEDIATE on SQLite) so two analysts never both move one case.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rongpay.compliance import store
from rongpay.compliance.errors import InvalidInput, NotFound, WorkflowError
from rongpay.store.uow import unit_of_work

MAX_TEXT = 10_000
MAX_ACTOR = 128
MAX_LIST = 1_000  # rows returned by list_cases at most
MAX_IMPORT = 100_000  # alerts per import call


class CaseStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    ESCALATED = "escalated"
    CLOSED_REPORTED = "closed_reported"
    CLOSED_FALSE_POSITIVE = "closed_false_positive"


CLOSED = frozenset({CaseStatus.CLOSED_REPORTED, CaseStatus.CLOSED_FALSE_POSITIVE})


class Outcome(StrEnum):
    REPORTED = "reported"
    FALSE_POSITIVE = "false_positive"


class Action(StrEnum):
    OPENED = "opened"
    ALERT_ADDED = "alert_added"  # a new alert on the subject of a case still being worked
    ASSIGNED = "assigned"
    STARTED = "started"
    NOTE = "note"
    EVIDENCE = "evidence"
    ESCALATED = "escalated"
    CLOSED = "closed"
    CLOSE_REFUSED = "close_refused"
    REPORT = "report_generated"


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    title: str
    status: CaseStatus
    subject: str
    assignee: str | None
    investigator: str | None
    opened_by: str
    opened_at: int
    closed_by: str | None
    closed_at: int | None
    resolution: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "status": str(self.status),
            "subject": self.subject,
            "assignee": self.assignee,
            "investigator": self.investigator,
            "opened_by": self.opened_by,
            "opened_at": self.opened_at,
            "closed_by": self.closed_by,
            "closed_at": self.closed_at,
            "resolution": self.resolution,
        }


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A case with everything attached: alerts, evidence and the full action log."""

    case: Case
    alerts: tuple[dict[str, Any], ...]
    evidence: tuple[dict[str, Any], ...]
    actions: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, object]:
        return {
            **self.case.to_json(),
            "alerts": list(self.alerts),
            "evidence": list(self.evidence),
            "actions": list(self.actions),
        }


def plain(row: Any) -> dict[str, Any]:
    """A result row as a dict with plain str keys (JSON encoders refuse str subclasses)."""
    return {str(k): v for k, v in row.items()}


def _now() -> int:
    return int(time.time())


def _actor(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_ACTOR:
        raise InvalidInput(f"who acts must be named (1..{MAX_ACTOR} characters)")
    return name


def _text(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise InvalidInput(f"{what} must not be empty (at most {MAX_TEXT} characters)")
    return text


def next_id(conn: Connection, name: str, prefix: str) -> str:
    """CASE-000001, CMP-000001, ...: a gapless counter per kind, inside the caller's UoW."""
    row = conn.execute(
        sa.select(store.counters.c.value).where(store.counters.c.name == name).with_for_update()
    ).first()
    value = (row[0] if row else 0) + 1
    if row:
        conn.execute(
            store.counters.update().where(store.counters.c.name == name).values(value=value)
        )
    else:
        conn.execute(store.counters.insert().values(name=name, value=value))
    return f"{prefix}-{value:06d}"


def record(conn: Connection, case_id: str, actor: str, action: Action, **detail: Any) -> None:
    conn.execute(
        store.case_actions.insert().values(
            case_id=case_id,
            at=_now(),
            actor=actor,
            action=str(action),
            detail=orjson.dumps(detail).decode(),
        )
    )


def import_alerts(
    engine: Engine,
    alerts: Iterable[Mapping[str, Any]],
    *,
    by: str,
    events: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """Store alerts (JSON form, as `aml scan` prints them) and open one case per new alert.

    Already-known alert ids are skipped (re-importing a scan is harmless). An alert whose subject
    (first account) already has a case not yet closed joins that case instead of opening
    another: one subject, one case for the analyst. When EVENTS (by id) are given, the case
    gets the alert's transactions and their graph as evidence. Returns the new case ids.
    """
    actor = _actor(by)
    rows = [_check_alert(a, n) for n, a in enumerate(alerts, start=1)]
    if len(rows) > MAX_IMPORT:
        raise InvalidInput(f"at most {MAX_IMPORT} alerts per import")
    opened: list[str] = []
    with unit_of_work(engine) as conn:
        for alert in rows:
            known = conn.execute(
                sa.select(store.alerts.c.alert_id).where(
                    store.alerts.c.alert_id == alert["alert_id"]
                )
            ).first()
            if known:
                continue
            existing = _open_case_of(conn, str(alert["accounts"][0]))
            if existing is not None:
                _attach(conn, existing, alert, actor, events or {}, Action.ALERT_ADDED)
            else:
                opened.append(_open_case(conn, alert, actor, events or {}))
    return opened


def _open_case_of(conn: Connection, subject: str) -> str | None:
    """The subject's case still being worked (not closed), if any: new alerts join it."""
    row = conn.execute(
        sa.select(store.cases.c.id)
        .where(store.cases.c.subject == subject)
        .where(store.cases.c.status.not_in([str(s) for s in CLOSED]))
        .order_by(store.cases.c.id)
        .limit(1)
    ).first()
    return None if row is None else str(row[0])


def _check_alert(alert: Mapping[str, Any], n: int) -> dict[str, Any]:
    need = ("alert_id", "scenario", "accounts", "transactions", "score", "summary")
    if not isinstance(alert, Mapping) or any(k not in alert for k in need):
        raise InvalidInput(f"alert {n}: needs {', '.join(need)}")
    if not isinstance(alert["accounts"], list) or not alert["accounts"]:
        raise InvalidInput(f"alert {n}: 'accounts' must be a non-empty list")
    if not isinstance(alert["transactions"], list):
        raise InvalidInput(f"alert {n}: 'transactions' must be a list")
    if not isinstance(alert["score"], int | float):
        raise InvalidInput(f"alert {n}: 'score' must be a number")
    return dict(alert)


def _open_case(
    conn: Connection, alert: dict[str, Any], actor: str, events: Mapping[str, Mapping[str, Any]]
) -> str:
    case_id = next_id(conn, "case", "CASE")
    now = _now()
    subject = str(alert["accounts"][0])
    conn.execute(
        store.cases.insert().values(
            id=case_id,
            title=f"{alert['scenario']}: {alert['summary']}"[:500],
            status=str(CaseStatus.OPEN),
            subject=subject,
            opened_by=actor,
            opened_at=now,
            version=1,
        )
    )
    _attach(conn, case_id, alert, actor, events, Action.OPENED)
    return case_id


def _attach(
    conn: Connection,
    case_id: str,
    alert: dict[str, Any],
    actor: str,
    events: Mapping[str, Mapping[str, Any]],
    action: Action,
) -> None:
    conn.execute(
        store.alerts.insert().values(
            alert_id=str(alert["alert_id"]),
            scenario=str(alert["scenario"]),
            accounts=orjson.dumps(alert["accounts"]).decode(),
            transactions=orjson.dumps(alert["transactions"]).decode(),
            score=float(alert["score"]),
            summary=str(alert["summary"]),
            raised_at=_now(),
            case_id=case_id,
        )
    )
    record(conn, case_id, actor, action, alert_id=alert["alert_id"])
    found = [events[t] for t in alert["transactions"] if t in events]
    if found:
        _add_evidence(conn, case_id, actor, found)


def transaction_graph(transactions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Nodes (accounts) and edges (payer -> payee, amount, event id) of the transactions."""
    nodes: dict[str, int] = {}
    edges = []
    for t in transactions:
        payer, payee = t.get("payer"), t.get("payee")
        for account in (payer, payee):
            if account:
                nodes[str(account)] = nodes.get(str(account), 0) + 1
        edges.append(
            {
                "from": payer,
                "to": payee,
                "id": t.get("id"),
                "amount_minor": t.get("amount_minor"),
                "currency": t.get("currency"),
                "ts": t.get("ts"),
            }
        )
    return {"nodes": [{"id": k, "degree": v} for k, v in sorted(nodes.items())], "edges": edges}


def _add_evidence(
    conn: Connection, case_id: str, actor: str, transactions: Sequence[Mapping[str, Any]]
) -> None:
    now = _now()
    for t in transactions:
        conn.execute(
            store.evidence.insert().values(
                case_id=case_id,
                kind="transaction",
                ref=str(t.get("id")),
                data=orjson.dumps(dict(t)).decode(),
                added_by=actor,
                added_at=now,
            )
        )
    graph = transaction_graph(transactions)
    conn.execute(
        store.evidence.insert().values(
            case_id=case_id,
            kind="graph",
            ref=f"graph:{len(graph['nodes'])}n{len(graph['edges'])}e",
            data=orjson.dumps(graph).decode(),
            added_by=actor,
            added_at=now,
        )
    )
    record(conn, case_id, actor, Action.EVIDENCE, transactions=[t.get("id") for t in transactions])


def _lock(conn: Connection, case_id: str) -> Case:
    row = (
        conn.execute(sa.select(store.cases).where(store.cases.c.id == case_id).with_for_update())
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no case {case_id!r}")
    return _case(row)


def _case(row: Any) -> Case:
    return Case(
        id=row["id"],
        title=row["title"],
        status=CaseStatus(row["status"]),
        subject=row["subject"],
        assignee=row["assignee"],
        investigator=row["investigator"],
        opened_by=row["opened_by"],
        opened_at=row["opened_at"],
        closed_by=row["closed_by"],
        closed_at=row["closed_at"],
        resolution=row["resolution"],
    )


def _update(conn: Connection, case_id: str, **values: Any) -> None:
    conn.execute(
        store.cases.update()
        .where(store.cases.c.id == case_id)
        .values(version=store.cases.c.version + 1, **values)
    )


def _not_closed(case: Case) -> None:
    if case.status in CLOSED:
        raise WorkflowError(f"case {case.id} is closed ({case.status})", "case_closed")


def assign(engine: Engine, case_id: str, *, to: str, by: str) -> Case:
    assignee, actor = _actor(to), _actor(by)
    with unit_of_work(engine) as conn:
        case = _lock(conn, case_id)
        _not_closed(case)
        _update(conn, case_id, assignee=assignee)
        record(conn, case_id, actor, Action.ASSIGNED, assignee=assignee)
        return _lock(conn, case_id)


def start(engine: Engine, case_id: str, *, by: str) -> Case:
    """The caller starts investigating (and becomes the investigator)."""
    actor = _actor(by)
    with unit_of_work(engine) as conn:
        case = _lock(conn, case_id)
        if case.status != CaseStatus.OPEN:
            raise WorkflowError(f"case {case_id} is {case.status}, not open", "invalid_transition")
        if case.assignee and case.assignee != actor:
            raise WorkflowError(
                f"case {case_id} is assigned to {case.assignee}, not {actor}", "not_assignee"
            )
        _update(
            conn,
            case_id,
            status=str(CaseStatus.INVESTIGATING),
            investigator=actor,
            assignee=case.assignee or actor,
        )
        record(conn, case_id, actor, Action.STARTED)
        return _lock(conn, case_id)


def add_note(engine: Engine, case_id: str, *, by: str, text: str) -> None:
    actor, body = _actor(by), _text(text, "a note")
    with unit_of_work(engine) as conn:
        _not_closed(_lock(conn, case_id))
        record(conn, case_id, actor, Action.NOTE, text=body)


def add_transactions(
    engine: Engine, case_id: str, *, by: str, transactions: Sequence[Mapping[str, Any]]
) -> None:
    actor = _actor(by)
    if not transactions:
        raise InvalidInput("no transactions to add")
    with unit_of_work(engine) as conn:
        _not_closed(_lock(conn, case_id))
        _add_evidence(conn, case_id, actor, transactions)


def escalate(engine: Engine, case_id: str, *, by: str, reason: str) -> Case:
    actor, why = _actor(by), _text(reason, "the reason")
    with unit_of_work(engine) as conn:
        case = _lock(conn, case_id)
        if case.status != CaseStatus.INVESTIGATING:
            raise WorkflowError(
                f"case {case_id} is {case.status}; only a case under investigation escalates",
                "invalid_transition",
            )
        _update(conn, case_id, status=str(CaseStatus.ESCALATED))
        record(conn, case_id, actor, Action.ESCALATED, reason=why)
        return _lock(conn, case_id)


def close(engine: Engine, case_id: str, *, by: str, outcome: Outcome, reason: str) -> Case:
    """Close as reported or false positive; the closer must not be the investigator."""
    actor, why = _actor(by), _text(reason, "the reason")
    with unit_of_work(engine) as conn:
        case = _lock(conn, case_id)
        if case.status not in (CaseStatus.INVESTIGATING, CaseStatus.ESCALATED):
            raise WorkflowError(
                f"case {case_id} is {case.status}; only an investigated case closes",
                "invalid_transition",
            )
        if actor == case.investigator:
            refused = True
        else:
            refused = False
            status = (
                CaseStatus.CLOSED_REPORTED
                if outcome is Outcome.REPORTED
                else CaseStatus.CLOSED_FALSE_POSITIVE
            )
            _update(
                conn,
                case_id,
                status=str(status),
                closed_by=actor,
                closed_at=_now(),
                resolution=why,
            )
            record(conn, case_id, actor, Action.CLOSED, outcome=str(outcome), reason=why)
    if refused:
        _record_refusal(engine, case_id, actor, outcome)
        raise WorkflowError(
            f"four eyes: {actor} investigated case {case_id} and cannot also close it",
            "four_eyes",
        )
    return get_case(engine, case_id).case


def _record_refusal(engine: Engine, case_id: str, actor: str, outcome: Outcome) -> None:
    with unit_of_work(engine) as conn:
        record(conn, case_id, actor, Action.CLOSE_REFUSED, outcome=str(outcome), rule="four_eyes")


def get_case(engine: Engine, case_id: str) -> CaseFile:
    with unit_of_work(engine, write=False) as conn:
        row = conn.execute(sa.select(store.cases).where(store.cases.c.id == case_id)).mappings()
        found = row.first()
        if found is None:
            raise NotFound(f"no case {case_id!r}")
        alerts = [
            {
                **plain(r),
                "accounts": orjson.loads(r["accounts"]),
                "transactions": orjson.loads(r["transactions"]),
            }
            for r in conn.execute(
                sa.select(store.alerts).where(store.alerts.c.case_id == case_id)
            ).mappings()
        ]
        evidence = [
            {**plain(r), "data": orjson.loads(r["data"])}
            for r in conn.execute(
                sa.select(store.evidence)
                .where(store.evidence.c.case_id == case_id)
                .order_by(store.evidence.c.seq)
            ).mappings()
        ]
        actions = [
            {**plain(r), "detail": orjson.loads(r["detail"])}
            for r in conn.execute(
                sa.select(store.case_actions)
                .where(store.case_actions.c.case_id == case_id)
                .order_by(store.case_actions.c.seq)
            ).mappings()
        ]
    return CaseFile(_case(found), tuple(alerts), tuple(evidence), tuple(actions))


def list_cases(
    engine: Engine,
    *,
    status: CaseStatus | None = None,
    assignee: str | None = None,
    limit: int = 100,
) -> list[Case]:
    query = sa.select(store.cases).order_by(store.cases.c.id).limit(min(limit, MAX_LIST))
    if status is not None:
        query = query.where(store.cases.c.status == str(status))
    if assignee is not None:
        query = query.where(store.cases.c.assignee == assignee)
    with unit_of_work(engine, write=False) as conn:
        return [_case(r) for r in conn.execute(query).mappings()]


def parse_status(text: str) -> CaseStatus:
    try:
        return CaseStatus(text)
    except ValueError:
        raise InvalidInput(
            f"status {text!r}: use one of {', '.join(s.value for s in CaseStatus)}"
        ) from None
