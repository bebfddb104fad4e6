"""Block/allow lists and published rule sets in the database, so every worker and restart
sees the same lists and the same rules.

Lists: one row per (list, kind, value); importing a file adds new rows and updates the reason
and date of existing ones (migration risk_0001).

Rules: a published rule set is one row per version, its source text immutable once written
(publishing the same text again is a no-op, other text under a published number is refused).
Two roles point at versions: `active` (the live rules) and `shadow` (evaluated, reported,
never acted on). Migration risk_0002.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.risk.errors import RuleVersionError
from rongpay.risk.lists import Entry, Kind, ListName
from rongpay.store.metadata import metadata
from rongpay.store.uow import unit_of_work

IMPORT_CHUNK = 1000

risk_list_entries = sa.Table(
    "risk_list_entries",
    metadata,
    sa.Column("list", sa.String(8), primary_key=True),
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("value", sa.String(256), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("added", sa.String(64), nullable=False),
)


risk_rule_versions = sa.Table(
    "risk_rule_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("published_at", sa.String(32), nullable=False),
)

risk_rule_roles = sa.Table(
    "risk_rule_roles",
    metadata,
    sa.Column("role", sa.String(8), primary_key=True),
    sa.Column("version", sa.Integer, sa.ForeignKey("risk_rule_versions.version"), nullable=False),
    sa.Column("changed_at", sa.String(32), nullable=False),
)

ROLES = ("active", "shadow")
MAX_LISTED_VERSIONS = 10_000


@dataclass(frozen=True, slots=True)
class RuleVersion:
    version: int
    sha256: str
    note: str
    published_at: str
    roles: tuple[str, ...]


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def publish_rules(engine: Engine, version: int, source: str, note: str = "") -> bool:
    """Store SOURCE (already parsed: its `version` statement is VERSION) as that version.

    True when stored, False when the same text was already published under VERSION (a replay);
    RuleVersionError `exists_with_different_source` when other text holds that number.
    """
    t = risk_rule_versions
    digest = hashlib.sha256(source.encode()).hexdigest()
    with unit_of_work(engine) as conn:
        found = conn.execute(sa.select(t.c.sha256).where(t.c.version == version)).scalar()
        if found == digest:
            return False
        if found is not None:
            raise RuleVersionError(
                f"version {version} is already published with other rules; published versions "
                "never change: bump the version statement and publish again",
                "exists_with_different_source",
            )
        conn.execute(
            t.insert().values(
                version=version, source=source, sha256=digest, note=note,
                published_at=_utc_now(),
            )
        )  # fmt: skip
    return True


def list_rule_versions(engine: Engine) -> list[RuleVersion]:
    """Every published version, oldest first, with the roles it holds."""
    t, r = risk_rule_versions, risk_rule_roles
    with unit_of_work(engine, write=False) as conn:
        roles: dict[int, list[str]] = {}
        for row in conn.execute(sa.select(r.c.role, r.c.version).order_by(r.c.role)):
            roles.setdefault(row.version, []).append(row.role)
        rows = conn.execute(
            sa.select(t.c.version, t.c.sha256, t.c.note, t.c.published_at)
            .order_by(t.c.version)
            .limit(MAX_LISTED_VERSIONS)
        )
        return [
            RuleVersion(row.version, row.sha256, row.note, row.published_at,
                        tuple(roles.get(row.version, ())))
            for row in rows
        ]  # fmt: skip


def rule_source(engine: Engine, version: int) -> str:
    """The text published as VERSION; RuleVersionError `unknown_version` when there is none."""
    t = risk_rule_versions
    with unit_of_work(engine, write=False) as conn:
        source = conn.execute(sa.select(t.c.source).where(t.c.version == version)).scalar()
    if source is None:
        raise RuleVersionError(f"rules version {version} is not published", "unknown_version")
    return str(source)


def rule_roles(engine: Engine) -> dict[str, int]:
    """{"active": N, "shadow": M}, each present only when set."""
    r = risk_rule_roles
    with unit_of_work(engine, write=False) as conn:
        return {row.role: row.version for row in conn.execute(sa.select(r.c.role, r.c.version))}


def set_rule_role(engine: Engine, role: str, version: int | None) -> None:
    """Point ROLE at VERSION (None clears it). A version cannot shadow itself while active."""
    assert role in ROLES
    t, r = risk_rule_versions, risk_rule_roles
    with unit_of_work(engine) as conn:
        if version is not None:
            exists = conn.execute(sa.select(t.c.version).where(t.c.version == version)).scalar()
            if exists is None:
                raise RuleVersionError(
                    f"rules version {version} is not published", "unknown_version"
                )
            other = "shadow" if role == "active" else "active"
            held = conn.execute(sa.select(r.c.version).where(r.c.role == other)).scalar()
            if role == "shadow" and held == version:
                raise RuleVersionError(
                    f"rules version {version} is active; shadow another version",
                    "already_active",
                )
            if role == "active" and held == version:  # promoting the shadow ends its shadow run
                conn.execute(r.delete().where(r.c.role == "shadow"))
        conn.execute(r.delete().where(r.c.role == role))
        if version is not None:
            conn.execute(r.insert().values(role=role, version=version, changed_at=_utc_now()))


def import_entries(engine: Engine, entries: Iterable[Entry]) -> tuple[int, int]:
    """Upsert ENTRIES in one transaction; return (added, updated)."""
    t = risk_list_entries
    rows = {(e.list.value, e.kind.value, e.value): e for e in entries}
    added = updated = 0
    with unit_of_work(engine) as conn:
        existing = {
            (r.list, r.kind, r.value): (r.reason, r.added)
            for r in conn.execute(sa.select(t.c.list, t.c.kind, t.c.value, t.c.reason, t.c.added))
        }
        new = [k for k in rows if k not in existing]
        for i in range(0, len(new), IMPORT_CHUNK):
            chunk = [_row(rows[k]) for k in new[i : i + IMPORT_CHUNK]]
            conn.execute(t.insert(), chunk)
        added = len(new)
        for key, e in rows.items():
            if key in existing and existing[key] != (e.reason, e.added):
                cond = sa.and_(t.c.list == key[0], t.c.kind == key[1], t.c.value == key[2])
                conn.execute(t.update().where(cond).values(reason=e.reason, added=e.added))
                updated += 1
    return added, updated


def export_entries(engine: Engine) -> list[Entry]:
    t = risk_list_entries
    with unit_of_work(engine, write=False) as conn:
        result = conn.execute(sa.select(t).order_by(t.c.list, t.c.kind, t.c.value))
        return [Entry(ListName(r.list), Kind(r.kind), r.value, r.reason, r.added) for r in result]


def _row(e: Entry) -> dict[str, str]:
    return {
        "list": e.list.value,
        "kind": e.kind.value,
        "value": e.value,
        "reason": e.reason,
        "added": e.added,
    }
