"""The list format, list matching, and the database import/export."""

from __future__ import annotations

import pytest

from rongpay.risk.errors import ListFormatError
from rongpay.risk.lists import Entry, Kind, ListName, Lists, read_entries, write_entries

SAMPLE = """# shared by the fraud desk
list,kind,value,reason,added
block,device,dev_farm,"card testing, many payers",2026-11-20
block,ip,6.6.6.6,,
allow,account,acct_payroll,payroll,
allow,card,tok_123,,
"""


def test_round_trip() -> None:
    entries = list(read_entries(SAMPLE))
    assert len(entries) == 4
    assert entries[0] == Entry(
        ListName.BLOCK, Kind.DEVICE, "dev_farm", "card testing, many payers", "2026-11-20"
    )
    again = list(read_entries(write_entries(entries)))
    assert sorted(again, key=str) == sorted(entries, key=str)


def test_empty_file_is_an_empty_list() -> None:
    assert list(read_entries("# nothing yet\n")) == []


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("value,kind,list\n", "header must be"),
        ("list,kind,value\nblock,device\n", "line 2: expected list,kind,value"),
        ("list,kind,value\ngrey,device,x\n", "line 2: list must be block or allow"),
        ("list,kind,value\nblock,phone,x\n", "line 2: kind must be"),
        ("list,kind,value\nblock,ip,\n", "line 2: value must be"),
    ],
)
def test_bad_lines(text: str, needle: str) -> None:
    with pytest.raises(ListFormatError, match=needle):
        list(read_entries(text))


def test_matching(ev) -> None:  # type: ignore[no-untyped-def]
    lists = Lists(read_entries(SAMPLE))
    assert lists.match(ev(device_id="dev_farm")) == (ListName.BLOCK, "list:block:device")
    assert lists.match(ev(payer="acct_payroll")) == (ListName.ALLOW, "list:allow:account")
    assert lists.match(ev(payer="acct_payroll", ip="6.6.6.6")) == (ListName.BLOCK, "list:block:ip")
    assert lists.match(ev(payee="acct_payroll")) is None  # allow is for the payer side only
    assert lists.match(ev(card="tok_123"))[0] is ListName.ALLOW  # type: ignore[index]


def test_database_import_export(engine) -> None:  # type: ignore[no-untyped-def]
    from rongpay.risk.store import export_entries, import_entries

    entries = list(read_entries(SAMPLE))
    assert import_entries(engine, entries) == (4, 0)
    changed = [Entry(ListName.BLOCK, Kind.IP, "6.6.6.6", "botnet", "2026-11-25")]
    assert import_entries(engine, [*entries[:1], *changed]) == (0, 1)
    out = export_entries(engine)
    assert len(out) == 4
    assert Entry(ListName.BLOCK, Kind.IP, "6.6.6.6", "botnet", "2026-11-25") in out
