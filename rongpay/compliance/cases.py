"""Alerts become cases: assignment, notes, evidence, statuses, four-eyes closing.

Workflow (any other move is refused with a WorkflowError and a stable code):

    open --start--> investigating --escalate--> escalated
      investigating | escalated --close(reported | false_positive)--> closed_*

`start` makes the caller the investigator. `close` must come from someone else (four eyes):
the closer is never anyone who took an investigative action on the case (started it, added a
note or evidence, escalated it). Actor names are compared and stored in a canonical form (NFKC,
case-folded, spaces collapsed, common Cyrillic/Greek look-alikes of Latin letters folded for
the four-eyes comparison) so `ANA`, `ana ` and a full-width `ａｎａ` are one person; names with
control or invisible format characters are refused. Closed cases take no more notes,
evidence or moves.
Every action, including refused closings, is a row in `compliance_case_actions`.
Each use case is one unit of work; the case row is locked (SELECT ... FOR UPDATE on
PostgreSQL, BEGIN IMMEDIATE on SQLite) so two analysts never both move one case.
"""

from __future__ import annotations

import math
import time
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from rongpay.compliance import store
from rongpay.compliance.errors import InvalidInput, NotFound, WorkflowError
from rongpay.store.uow import unit_of_work

MAX_TEXT = 10_000
MAX_ACTOR = 128
MAX_LIST = 1_000  # rows returned by list_cases at most
MAX_IMPORT = 100_000  # alerts per import call
MAX_ALERT_ID = 64  # compliance_alerts.alert_id
MAX_SCENARIO = 32  # compliance_alerts.scenario
MAX_ACCOUNT = 256  # compliance_cases.subject
MAX_REF = 256  # compliance_evidence.ref: a transaction id
MAX_ALERT_ITEMS = 10_000  # accounts or transactions in one alert
MAX_EVIDENCE = 10_000  # transactions attached in one call


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


# Whoever took one of these actions on a case took part in investigating it: not its closer.
INVESTIGATIVE = (Action.STARTED, Action.NOTE, Action.EVIDENCE, Action.ESCALATED)


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


# Cyrillic and Greek letters that look like Latin ones (after case folding): folded for the
# four-eyes comparison only, so a look-alike spelling is not another person.
_LOOKALIKES = str.maketrans(
    {
        **dict.fromkeys("аα", "a"),
        **dict.fromkeys("вβ", "b"),
        "с": "c",
        "ԁ": "d",
        **dict.fromkeys("еε", "e"),
        **dict.fromkeys("һнη", "h"),
        **dict.fromkeys("іι", "i"),
        "ј": "j",
        **dict.fromkeys("кκ", "k"),
        "ӏ": "l",
        **dict.fromkeys("мμ", "m"),
        **dict.fromkeys("ոν", "n"),
        **dict.fromkeys("оο", "o"),
        **dict.fromkeys("рρ", "p"),
        "ԛ": "q",
        "ѕ": "s",
        **dict.fromkeys("тτ", "t"),
        "ս": "u",
        "ѵ": "v",
        "ԝ": "w",
        **dict.fromkeys("хχ", "x"),
        **dict.fromkeys("уυ", "y"),
        "ζ": "z",
    }
)


def _actor(name: str) -> str:
    """The canonical form of who acts: NFKC, case-folded, inner spaces collapsed.

    Control and format characters (zero-width spaces, direction marks) are refused: they would
    make one person look like two.
    """
    if not isinstance(name, str):
        raise InvalidInput("who acts must be named by a string")
    text = unicodedata.normalize("NFKC", name)
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text.strip()):
        raise InvalidInput("who acts must not contain control or invisible characters")
    canonical = " ".join(text.casefold().split())
    if not canonical or len(canonical) > MAX_ACTOR:
        raise InvalidInput(f"who acts must be named (1..{MAX_ACTOR} characters)")
    return canonical


def same_person(a: str | None, b: str | None) -> bool:
    """True when two actor names are one person (canonical forms with look-alikes folded)."""
    if a is None or b is None:
        return False
    return _person_key(a) == _person_key(b)


def _person_key(name: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))
    return unicodedata.normalize("NFKC", text.translate(_LOOKALIKES))


def _text(text: str, what: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be text")
    text = text.strip()
    if not text or len(text) > limit:
        raise InvalidInput(f"{what} must not be empty (at most {limit} characters)")
    return text


def next_id(conn: Connection, name: str, prefix: str) -> str:
    """CASE-000001, CMP-000001, ...: a gapless counter per kind, inside the caller's UoW.

    The counter row is created if missing without a unique-key race (INSERT ... ON CONFLICT
    DO NOTHING: a concurrent first use waits for the other insert instead of failing), then
    locked (SELECT ... FOR UPDATE) and bumped.
    """
    counters = store.counters
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        insert(counters).values(name=name, value=0).on_conflict_do_nothing(index_elements=["name"])
    )
    row = conn.execute(
        sa.select(counters.c.value).where(counters.c.name == name).with_for_update()
    ).one()
    value = int(row[0]) + 1
    conn.execute(counters.update().where(counters.c.name == name).values(value=value))
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
    with unit_of_work(engine) as conn:
        return record_alerts(conn, alerts, by=by, events=events)


def record_alerts(
    conn: Connection,
    alerts: Iterable[Mapping[str, Any]],
    *,
    by: str,
    events: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """`import_alerts` inside the caller's open write transaction: the payment gateway opens
    a payment's case in the payment's own transaction, so neither exists without the other."""
    actor = _actor(by)
    rows = check_alerts(alerts)
    opened: list[str] = []
    for alert in rows:
        known = conn.execute(
            sa.select(store.alerts.c.alert_id).where(store.alerts.c.alert_id == alert["alert_id"])
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


def check_alerts(alerts: Iterable[Any]) -> list[dict[str, Any]]:
    """The alerts checked (InvalidInput naming the first bad one, by position from 1)."""
    rows: list[dict[str, Any]] = []
    for n, alert in enumerate(alerts, start=1):
        if n > MAX_IMPORT:
            raise InvalidInput(f"at most {MAX_IMPORT} alerts per import")
        rows.append(_check_alert(alert, n))
    return rows


def _check_alert(alert: Any, n: int) -> dict[str, Any]:
    need = ("alert_id", "scenario", "accounts", "transactions", "score", "summary")
    if not isinstance(alert, Mapping) or any(k not in alert for k in need):
        raise InvalidInput(f"alert {n}: needs {', '.join(need)}")
    _check_str(alert["alert_id"], f"alert {n}: 'alert_id'", MAX_ALERT_ID)
    _check_str(alert["scenario"], f"alert {n}: 'scenario'", MAX_SCENARIO)
    for key, limit in (("accounts", MAX_ACCOUNT), ("transactions", MAX_REF)):
        items = alert[key]
        if not isinstance(items, list):
            raise InvalidInput(f"alert {n}: '{key}' must be a list")
        if not items and key == "accounts":
            raise InvalidInput(f"alert {n}: 'accounts' must be a non-empty list")
        if len(items) > MAX_ALERT_ITEMS:
            raise InvalidInput(f"alert {n}: at most {MAX_ALERT_ITEMS} {key}")
        for item in items:
            _check_str(item, f"alert {n}: each of '{key}'", limit)
    score = alert["score"]
    if (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or not math.isfinite(score)
        or not 0 <= score <= 1
    ):
        raise InvalidInput(f"alert {n}: 'score' must be a number from 0 to 1")
    if not isinstance(alert["summary"], str) or len(alert["summary"]) > MAX_TEXT:
        raise InvalidInput(f"alert {n}: 'summary' must be text (at most {MAX_TEXT} characters)")
    return dict(alert)


def _check_str(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput(f"{what} must be a non-empty string of at most {limit} characters")
    return value


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
    """Attach transactions not yet in the case (by id) and the graph of those new ones."""
    if len(transactions) > MAX_EVIDENCE:
        raise InvalidInput(f"at most {MAX_EVIDENCE} transactions at a time")
    for n, t in enumerate(transactions, start=1):
        if not isinstance(t, Mapping):
            raise InvalidInput(f"transaction {n}: not an object")
        _check_str(t.get("id"), f"transaction {n}: 'id'", MAX_REF)
    known = {
        str(r[0])
        for r in conn.execute(
            sa.select(store.evidence.c.ref)
            .where(store.evidence.c.case_id == case_id)
            .where(store.evidence.c.kind == "transaction")
        )
    }
    new: dict[str, Mapping[str, Any]] = {}
    for t in transactions:
        if t["id"] not in known:
            new.setdefault(t["id"], t)
    if not new:
        return
    fresh = list(new.values())
    now = _now()
    for t in fresh:
        conn.execute(
            store.evidence.insert().values(
                case_id=case_id,
                kind="transaction",
                ref=str(t["id"]),
                data=orjson.dumps(dict(t)).decode(),
                added_by=actor,
                added_at=now,
            )
        )
    graph = transaction_graph(fresh)
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
    record(conn, case_id, actor, Action.EVIDENCE, transactions=list(new))


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
        if case.assignee and not same_person(case.assignee, actor):
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
    """Close as reported or false positive; the closer must not be anyone who investigated."""
    actor, why = _actor(by), _text(reason, "the reason")
    with unit_of_work(engine) as conn:
        case = _lock(conn, case_id)
        if case.status not in (CaseStatus.INVESTIGATING, CaseStatus.ESCALATED):
            raise WorkflowError(
                f"case {case_id} is {case.status}; only an investigated case closes",
                "invalid_transition",
            )
        refused = any(same_person(actor, who) for who in _investigators(conn, case))
        if not refused:
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
            f"four eyes: {actor} took part in investigating case {case_id} "
            "(started it, added a note or evidence, or escalated it) and cannot also close it",
            "four_eyes",
        )
    return get_case(engine, case_id).case


def _investigators(conn: Connection, case: Case) -> set[str]:
    """Everyone who took an investigative action on the case (they may not close it)."""
    rows = conn.execute(
        sa.select(store.case_actions.c.actor)
        .where(store.case_actions.c.case_id == case.id)
        .where(store.case_actions.c.action.in_([str(a) for a in INVESTIGATIVE]))
        .distinct()
    )
    found = {str(r[0]) for r in rows}
    if case.investigator:
        found.add(case.investigator)
    return found


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
        query = query.where(store.cases.c.assignee == _actor(assignee))
    with unit_of_work(engine, write=False) as conn:
        return [_case(r) for r in conn.execute(query).mappings()]


def parse_status(text: str) -> CaseStatus:
    try:
        return CaseStatus(text)
    except ValueError:
        raise InvalidInput(
            f"status {text!r}: use one of {', '.join(s.value for s in CaseStatus)}"
        ) from None
