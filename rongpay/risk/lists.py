"""Block and allow lists of accounts, devices, IPs and cards, in a plain shareable format.

The format (UTF-8 CSV, RFC 4180 quoting; `#` lines are comments; the header is required):

    list,kind,value,reason,added
    block,device,dev_1a2b3c4d5e6f,card testing farm,2026-11-20
    allow,account,acct_0c883dcb1cc8,payroll account,

`list` is block or allow; `kind` is account, device, ip or card; `value` is matched exactly
(cards by token or fingerprint, never a card number); `reason` and `added` are free text kept
for people. A block hit on the payer, payee, device, IP or card blocks the payment; an allow
hit on the payer account, device or card allows it (a block hit wins over an allow hit).
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rongpay.risk.errors import ListFormatError
from rongpay.risk.event import Event

HEADER = ("list", "kind", "value", "reason", "added")
MAX_ENTRIES = 5_000_000
MAX_VALUE_CHARS = 256


class ListName(enum.StrEnum):
    BLOCK = "block"
    ALLOW = "allow"


class Kind(enum.StrEnum):
    ACCOUNT = "account"
    DEVICE = "device"
    IP = "ip"
    CARD = "card"


# Which event field each rule-language name looks up, by kind.
KIND_OF_FIELD = {
    "payer": "account",
    "payee": "account",
    "device_id": "device",
    "ip": "ip",
    "card": "card",
}


@dataclass(frozen=True, slots=True)
class Entry:
    list: ListName
    kind: Kind
    value: str
    reason: str = ""
    added: str = ""


class Lists:
    """Entries by (list, kind) for O(1) lookups on the decision path."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self.entries: dict[tuple[str, str, str], Entry] = {}
        self.sets: dict[tuple[str, str], set[str]] = {
            (ln.value, k.value): set() for ln in ListName for k in Kind
        }
        for entry in entries:
            self.add(entry)

    def add(self, entry: Entry) -> None:
        self.entries[(entry.list.value, entry.kind.value, entry.value)] = entry
        self.sets[(entry.list.value, entry.kind.value)].add(entry.value)

    def __len__(self) -> int:
        return len(self.entries)

    def contains(self, which: str, kind: str, value: object) -> bool:
        return isinstance(value, str) and value in self.sets[(which, kind)]

    def match(self, ev: Event) -> tuple[ListName, str] | None:
        """The first list hit for EV as (list, reason code), block before allow."""
        block = self.sets
        for kind, value in (("account", ev.payer), ("account", ev.payee), ("device", ev.device_id),
                            ("ip", ev.ip), ("card", ev.card)):  # fmt: skip
            if value is not None and value in block[("block", kind)]:
                return ListName.BLOCK, f"list:block:{kind}"
        for kind, value in (("account", ev.payer), ("device", ev.device_id), ("card", ev.card)):
            if value is not None and value in block[("allow", kind)]:
                return ListName.ALLOW, f"list:allow:{kind}"
        return None


def _entry(row: list[str], line_no: int) -> Entry:
    if len(row) < 3:
        raise ListFormatError(
            f"line {line_no}: expected list,kind,value[,reason,added], got {len(row)} field(s)"
        )
    name, kind, value = (c.strip() for c in row[:3])
    if name not in ListName.__members__.values():
        raise ListFormatError(f"line {line_no}: list must be block or allow, got {name[:20]!r}")
    if kind not in Kind.__members__.values():
        raise ListFormatError(
            f"line {line_no}: kind must be account, device, ip or card, got {kind[:20]!r}"
        )
    if not value or len(value) > MAX_VALUE_CHARS:
        raise ListFormatError(f"line {line_no}: value must be 1 to {MAX_VALUE_CHARS} characters")
    reason = row[3].strip() if len(row) > 3 else ""
    added = row[4].strip() if len(row) > 4 else ""
    return Entry(ListName(name), Kind(kind), value, reason, added)


def read_entries(text: str) -> Iterator[Entry]:
    """Parse the list format; ListFormatError names the first bad line."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]  # fmt: skip
    if not lines:
        return
    first_no, first = lines[0]
    header = tuple(c.strip().lower() for c in next(csv.reader([first])))
    if header[:3] != HEADER[:3]:
        raise ListFormatError(f"line {first_no}: the header must be {','.join(HEADER)}")
    for count, (line_no, line) in enumerate(lines[1:], start=1):
        if count > MAX_ENTRIES:
            raise ListFormatError(f"more than {MAX_ENTRIES} entries")
        try:
            row = next(csv.reader([line]))
        except csv.Error as exc:
            raise ListFormatError(f"line {line_no}: {exc}") from None
        yield _entry(row, line_no)


def write_entries(entries: Iterable[Entry]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    for e in sorted(entries, key=lambda e: (e.list.value, e.kind.value, e.value)):
        writer.writerow((e.list.value, e.kind.value, e.value, e.reason, e.added))
    return buf.getvalue()
