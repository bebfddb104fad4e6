"""Sanctions and PEP lists in the OpenSanctions `targets.simple.csv` layout.

Columns are found by header name (extra ones are ignored; only `id` and `name` are required);
cells holding lists split on `;`. A list loads whole or not at all: the first malformed row
raises `ListFormatError` naming its line, and nothing is returned.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

from rongpay.compliance.errors import ListFormatError
from rongpay.compliance.names import name_forms
from rongpay.compliance.reference import countries

COLUMNS = [
    "id",
    "schema",
    "name",
    "aliases",
    "birth_date",
    "countries",
    "addresses",
    "identifiers",
    "sanctions",
    "phones",
    "emails",
    "program_ids",
    "dataset",
    "first_seen",
    "last_seen",
    "last_change",
]
REQUIRED_COLUMNS = ("id", "name")
MAX_LIST_BYTES = 2_000_000_000  # a list this big is not a sanctions list
MAX_CELL_ITEMS = 200  # aliases and the like: more is a malformed row
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
# OpenSanctions' own codes beside ISO 3166-1 alpha-2 (followthemoney's country type): the
# whole world / unknown, the EU, and former states by their ISO 3166-3 codes. Regions are
# written CC-XXX (ge-ab Abkhazia, ua-dpr, cy-trnc, md-pmr): a known alpha-2 code, a hyphen,
# then 2-4 letters.
OPENSANCTIONS_CODES = frozenset(["zz", "eu", "suhh", "cshh", "csxx", "yucs", "ddde"])
_REGION = re.compile(r"^([a-z]{2})-[a-z]{2,4}$")


def is_partial_date(text: str) -> bool:
    """YYYY, YYYY-MM or YYYY-MM-DD naming a real month and day (no 2026-02-30)."""
    m = _DATE.match(text)
    if not m:
        return False
    year, month, day = m.groups()
    try:
        dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return False
    return True


def is_list_country(code: str) -> bool:
    """An ISO 3166-1 alpha-2 code (plus XK), an OpenSanctions code, or an alpha-2 region."""
    code = code.lower()
    if code.upper() in countries() or code in OPENSANCTIONS_CODES:
        return True
    region = _REGION.match(code)
    return region is not None and region.group(1).upper() in countries()


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One target of a list (a person, organisation, vessel, ...)."""

    id: str
    schema: str
    caption: str
    aliases: tuple[str, ...]
    birth_dates: tuple[str, ...]
    countries: tuple[str, ...]
    sanctions: tuple[str, ...]
    dataset: str

    @property
    def is_person(self) -> bool:
        return self.schema in ("", "Person")


@dataclass(frozen=True, slots=True)
class SanctionsList:
    source: str
    entries: tuple[ListEntry, ...]


def split_cell(cell: str | None) -> tuple[str, ...]:
    if not cell:
        return ()
    return tuple(p.strip() for p in cell.split(";") if p.strip())


def load_list(path: str | Path) -> SanctionsList:
    """Read a whole list file, or raise ListFormatError (nothing half-loaded)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ListFormatError(f"{path}: no such list file") from exc
    except OSError as exc:
        raise ListFormatError(f"{path}: cannot read list: {exc.strerror}") from exc
    if len(raw) > MAX_LIST_BYTES:
        raise ListFormatError(f"{path}: list larger than {MAX_LIST_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ListFormatError(f"{path}: line {line}: not UTF-8 text") from exc
    return parse_list(text, source=str(path))


def parse_list(text: str, *, source: str = "<list>") -> SanctionsList:
    """Parse list TEXT (CSV with a header row) into a SanctionsList."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ListFormatError(f"{source}: line 1: {exc}") from exc
    if not header or not any(h.strip() for h in header):
        raise ListFormatError(f"{source}: empty list (no header row)")
    columns = _column_positions(header, source)
    entries: list[ListEntry] = []
    seen: set[str] = set()
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise ListFormatError(f"{source}: line {line}: {exc}") from exc
        if row is None:
            break
        if row:
            entry = _entry(row, columns, len(header), f"{source}: line {line}")
            if entry.id in seen:
                raise ListFormatError(f"{source}: line {line}: duplicate id {entry.id!r}")
            seen.add(entry.id)
            entries.append(entry)
        line = reader.line_num + 1
    if not entries:
        raise ListFormatError(f"{source}: the list has a header but no entries")
    return SanctionsList(source, tuple(entries))


def _column_positions(header: list[str], source: str) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    positions: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in COLUMNS:
            if name in positions:
                raise ListFormatError(f"{source}: line 1: column {name!r} appears twice")
            positions[name] = i
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if missing:
        raise ListFormatError(
            f"{source}: line 1: header lacks column(s) {', '.join(missing)}; "
            f"expected the targets.simple.csv header ({','.join(COLUMNS)})"
        )
    return positions


def _entry(row: list[str], columns: dict[str, int], width: int, where: str) -> ListEntry:
    if len(row) != width:
        raise ListFormatError(f"{where}: expected {width} fields like the header, found {len(row)}")

    def cell(name: str) -> str:
        i = columns.get(name)
        return row[i].strip() if i is not None else ""

    entry_id, caption, schema = cell("id"), cell("name"), cell("schema")
    if not entry_id:
        raise ListFormatError(f"{where}: empty id")
    if not caption:
        raise ListFormatError(f"{where}: entry {entry_id!r} has an empty name")
    aliases = split_cell(cell("aliases"))
    birth_dates = split_cell(cell("birth_date"))
    countries = tuple(c.lower() for c in split_cell(cell("countries")))
    if len(aliases) > MAX_CELL_ITEMS:
        raise ListFormatError(f"{where}: more than {MAX_CELL_ITEMS} aliases")
    for d in birth_dates:
        if not is_partial_date(d):
            raise ListFormatError(
                f"{where}: birth_date {d!r} is not a real date as YYYY, YYYY-MM or YYYY-MM-DD"
            )
    for c in countries:
        if not is_list_country(c):
            raise ListFormatError(
                f"{where}: country {c!r} is not an ISO 3166 alpha-2 or OpenSanctions code"
            )
    person = schema in ("", "Person")
    if not name_forms(caption, person):
        raise ListFormatError(f"{where}: name {caption!r} has no letters or digits")
    for alias in aliases:
        if not name_forms(alias, person):
            raise ListFormatError(f"{where}: alias {alias!r} has no letters or digits")
    return ListEntry(
        id=entry_id,
        schema=schema,
        caption=caption,
        aliases=aliases,
        birth_dates=birth_dates,
        countries=countries,
        sanctions=split_cell(cell("sanctions")),
        dataset=cell("dataset"),
    )
