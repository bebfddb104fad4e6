"""Loading lists: header by name, `;` cells, and whole-or-nothing errors naming the line."""

from __future__ import annotations

import pytest

from rongpay.compliance.errors import ListFormatError
from rongpay.compliance.sanctions import COLUMNS, load_list, parse_list
from rongpay.compliance.screening_service import SAMPLE_LIST

HEADER = ",".join(COLUMNS)


def row(**cells: str) -> str:
    return ",".join(cells.get(c, "") for c in COLUMNS)


def test_sample_list_loads():
    sanctions = load_list(SAMPLE_LIST)
    assert len(sanctions.entries) >= 20
    putin = next(e for e in sanctions.entries if e.id == "rp-0001")
    assert "Vladimir Putin" in putin.aliases and putin.countries == ("ru",)


def test_columns_found_by_name_extra_ignored_cells_split():
    text = "name,extra,id,aliases,countries\nJohn Doe,zzz,x1,Johnny D; J. Doe ;,US;GB\n"
    (entry,) = parse_list(text).entries
    assert entry.id == "x1" and entry.caption == "John Doe"
    assert entry.aliases == ("Johnny D", "J. Doe")
    assert entry.countries == ("us", "gb")
    assert entry.schema == "" and entry.is_person


def test_quoted_cell_with_newline_keeps_line_numbers():
    quoted = '"b",Person,"C\nD",,,,,,,,,,,,,'
    text = f"{HEADER}\n{row(id='a', name='A B')}\n{quoted}\n{row(id='', name='E')}\n"
    with pytest.raises(ListFormatError, match="line 5: empty id"):
        parse_list(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty list"),
        ("foo,bar\n1,2\n", "line 1: header lacks column"),
        ("id,name,id\n1,a,2\n", "line 1: column 'id' appears twice"),
        (f"{HEADER}\n", "no entries"),
        (f"{HEADER}\n{row(id='a', name='A')}\n{row(id='a', name='B')}\n", "line 3: duplicate"),
        (f"{HEADER}\n{row(id='a', name='')}\n", "line 2: entry 'a' has an empty name"),
        (f"{HEADER}\n{row(id='a', name='A')},extra\n", "line 2: expected 16 fields"),
        (f"{HEADER}\n{row(id='a', name='A', birth_date='03/02/1971')}\n", "line 2: birth_date"),
        (f"{HEADER}\n{row(id='a', name='A', countries='Russia!')}\n", "line 2: country"),
        (f"{HEADER}\n{row(id='a', name='!!!')}\n", "line 2: name '!!!' has no letters"),
        ('id,name\n"a,B\n', "line 2"),
    ],
)
def test_malformed_lists_fail_whole_naming_the_line(text, message):
    with pytest.raises(ListFormatError, match=message):
        parse_list(text)


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(ListFormatError, match="no such list file"):
        load_list(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"id,name\n1,ok\n2,\xff\xfe\n")
    with pytest.raises(ListFormatError, match="line 3: not UTF-8"):
        load_list(bad)
