"""Consumer complaints: intake with a deadline, handling, resolution, every action logged.

A complaint is `received`, then `in_progress` once someone takes it, then `resolved`. Its
deadline is `received_at + deadline_days` (15 calendar days by default, the usual ceiling for
a payment institution to answer a consumer complaint); one still open past it is overdue, and
one resolved after it was resolved late. Both show in the complaints report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from rongpay.compliance import store
from rongpay.compliance.cases import MAX_LIST, _actor, _text, next_id, plain
from rongpay.compliance.errors import InvalidInput, NotFound, WorkflowError
from rongpay.store.uow import unit_of_work

DEFAULT_DEADLINE_DAYS = 15
MAX_DEADLINE_DAYS = 90
MAX_CUSTOMER = 256  # compliance_complaints.customer
MAX_REPORTED = 1_000_000  # complaints in one report at most (read in pages of MAX_LIST)
CHANNELS = frozenset({"phone", "email", "app", "web", "branch", "letter", "regulator"})
CATEGORIES = frozenset(
    {"unauthorised_payment", "fees", "refund", "service", "account_access", "privacy", "other"}
)


class ComplaintStatus(StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Complaint:
    id: str
    customer: str
    channel: str
    category: str
    description: str
    status: ComplaintStatus
    received_at: int
    due_at: int
    resolved_at: int | None
    resolved_by: str | None
    resolution: str | None

    def overdue(self, now_s: int) -> bool:
        return self.status != ComplaintStatus.RESOLVED and now_s > self.due_at

    def resolved_late(self) -> bool:
        return self.resolved_at is not None and self.resolved_at > self.due_at

    def to_json(self, now_s: int | None = None) -> dict[str, object]:
        now_s = int(time.time()) if now_s is None else now_s
        return {
            "id": self.id,
            "customer": self.customer,
            "channel": self.channel,
            "category": self.category,
            "description": self.description,
            "status": str(self.status),
            "received_at": self.received_at,
            "due_at": self.due_at,
            "resolved_at": self.resolved_at,
            "resolved_by": self.resolved_by,
            "resolution": self.resolution,
            "overdue": self.overdue(now_s),
            "resolved_late": self.resolved_late(),
        }


def _row(row: Any) -> Complaint:
    return Complaint(
        id=row["id"],
        customer=row["customer"],
        channel=row["channel"],
        category=row["category"],
        description=row["description"],
        status=ComplaintStatus(row["status"]),
        received_at=row["received_at"],
        due_at=row["due_at"],
        resolved_at=row["resolved_at"],
        resolved_by=row["resolved_by"],
        resolution=row["resolution"],
    )


def _log(conn: Connection, cid: str, actor: str, action: str, **detail: Any) -> None:
    conn.execute(
        store.complaint_actions.insert().values(
            complaint_id=cid,
            at=int(time.time()),
            actor=actor,
            action=action,
            detail=orjson.dumps(detail).decode(),
        )
    )


def open_complaint(
    engine: Engine,
    *,
    customer: str,
    category: str,
    description: str,
    channel: str,
    by: str,
    received_at: int | None = None,
    deadline_days: int = DEFAULT_DEADLINE_DAYS,
) -> Complaint:
    actor = _actor(by)
    who = _text(customer, "the customer", MAX_CUSTOMER)
    text = _text(description, "the description")
    if not isinstance(category, str) or category not in CATEGORIES:
        raise InvalidInput(f"category {category!r}: use one of {', '.join(sorted(CATEGORIES))}")
    if not isinstance(channel, str) or channel not in CHANNELS:
        raise InvalidInput(f"channel {channel!r}: use one of {', '.join(sorted(CHANNELS))}")
    if (
        isinstance(deadline_days, bool)
        or not isinstance(deadline_days, int)
        or not 1 <= deadline_days <= MAX_DEADLINE_DAYS
    ):
        raise InvalidInput(f"deadline must be 1..{MAX_DEADLINE_DAYS} days")
    received = int(time.time()) if received_at is None else received_at
    with unit_of_work(engine) as conn:
        cid = next_id(conn, "complaint", "CMP")
        conn.execute(
            store.complaints.insert().values(
                id=cid,
                customer=who,
                channel=channel,
                category=category,
                description=text,
                status=str(ComplaintStatus.RECEIVED),
                received_at=received,
                due_at=received + deadline_days * 86_400,
                version=1,
            )
        )
        _log(conn, cid, actor, "received", deadline_days=deadline_days)
    return get_complaint(engine, cid)


def _locked(conn: Connection, cid: str) -> Complaint:
    row = (
        conn.execute(
            sa.select(store.complaints).where(store.complaints.c.id == cid).with_for_update()
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no complaint {cid!r}")
    return _row(row)


def take(engine: Engine, cid: str, *, by: str) -> Complaint:
    actor = _actor(by)
    with unit_of_work(engine) as conn:
        complaint = _locked(conn, cid)
        if complaint.status != ComplaintStatus.RECEIVED:
            raise WorkflowError(f"complaint {cid} is {complaint.status}", "invalid_transition")
        conn.execute(
            store.complaints.update()
            .where(store.complaints.c.id == cid)
            .values(status=str(ComplaintStatus.IN_PROGRESS), version=store.complaints.c.version + 1)
        )
        _log(conn, cid, actor, "taken")
    return get_complaint(engine, cid)


def resolve(
    engine: Engine, cid: str, *, by: str, resolution: str, at: int | None = None
) -> Complaint:
    actor, text = _actor(by), _text(resolution, "the resolution")
    with unit_of_work(engine) as conn:
        complaint = _locked(conn, cid)
        if complaint.status == ComplaintStatus.RESOLVED:
            raise WorkflowError(f"complaint {cid} is already resolved", "already_resolved")
        when = int(time.time()) if at is None else at
        conn.execute(
            store.complaints.update()
            .where(store.complaints.c.id == cid)
            .values(
                status=str(ComplaintStatus.RESOLVED),
                resolved_at=when,
                resolved_by=actor,
                resolution=text,
                version=store.complaints.c.version + 1,
            )
        )
        _log(conn, cid, actor, "resolved", late=when > complaint.due_at)
    return get_complaint(engine, cid)


def get_complaint(engine: Engine, cid: str) -> Complaint:
    with unit_of_work(engine, write=False) as conn:
        row = (
            conn.execute(sa.select(store.complaints).where(store.complaints.c.id == cid))
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound(f"no complaint {cid!r}")
    return _row(row)


def list_complaints(
    engine: Engine, *, since_s: int | None = None, until_s: int | None = None, limit: int = MAX_LIST
) -> list[Complaint]:
    query = sa.select(store.complaints).order_by(store.complaints.c.id).limit(min(limit, MAX_LIST))
    if since_s is not None:
        query = query.where(store.complaints.c.received_at >= since_s)
    if until_s is not None:
        query = query.where(store.complaints.c.received_at < until_s)
    with unit_of_work(engine, write=False) as conn:
        return [_row(r) for r in conn.execute(query).mappings()]


def complaints_received(engine: Engine, *, since_s: int, until_s: int) -> list[Complaint]:
    """Every complaint received in [SINCE_S, UNTIL_S), by id, read in pages of MAX_LIST from
    one snapshot; InvalidInput beyond MAX_REPORTED (split the period)."""
    c = store.complaints.c
    found: list[Complaint] = []
    after = ""
    with unit_of_work(engine, write=False, isolation="REPEATABLE READ") as conn:
        for _ in range(MAX_REPORTED // MAX_LIST + 1):
            page = [
                _row(r)
                for r in conn.execute(
                    sa.select(store.complaints)
                    .where(c.received_at >= since_s, c.received_at < until_s, c.id > after)
                    .order_by(c.id)
                    .limit(MAX_LIST)
                ).mappings()
            ]
            found.extend(page)
            if len(found) > MAX_REPORTED:
                raise InvalidInput(
                    f"more than {MAX_REPORTED} complaints in the period: report a shorter one"
                )
            if len(page) < MAX_LIST:
                return found
            after = page[-1].id
    raise InvalidInput(f"more than {MAX_REPORTED} complaints in the period: report a shorter one")


def complaint_actions(engine: Engine, cid: str) -> list[dict[str, Any]]:
    with unit_of_work(engine, write=False) as conn:
        rows = conn.execute(
            sa.select(store.complaint_actions)
            .where(store.complaint_actions.c.complaint_id == cid)
            .order_by(store.complaint_actions.c.seq)
        ).mappings()
        return [{**plain(r), "detail": orjson.loads(r["detail"])} for r in rows]
