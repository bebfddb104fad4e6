"""Event validation: every bad input gets a code and a message naming the field."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rongpay.risk.errors import EventError
from rongpay.risk.event import Rejected, event_from_mapping, parse_line, read_events
from tests.risk.conftest import T0, make


def test_good_event_and_extra_fields_ignored() -> None:
    e = event_from_mapping(make(t=5, label_fraud="card_testing", extra={"x": 1}))
    assert e.ts_s == T0 + 5 and e.amount_minor == 10_000 and e.mcc == "5411"


def test_optional_fields_may_be_missing() -> None:
    obj = make()
    for name in ("payer_country", "payee_country", "channel", "device_id", "ip", "mcc"):
        del obj[name]
    e = event_from_mapping(obj)
    assert e.device_id is None and e.channel is None


@pytest.mark.parametrize(
    ("change", "code", "needle"),
    [
        ({"amount_minor": "100"}, "wrong_type", "amount_minor"),
        ({"amount_minor": 1.5}, "wrong_type", "amount_minor"),
        ({"amount_minor": True}, "wrong_type", "amount_minor"),
        ({"amount_minor": -1}, "invalid_value", "amount_minor"),
        ({"currency": "XYZ"}, "unknown_currency", "XYZ"),
        ({"currency": ["CNY"]}, "wrong_type", "currency"),
        ({"type": "gift"}, "invalid_value", "type"),
        ({"type": ["payment"]}, "wrong_type", "type"),
        ({"ts": "yesterday"}, "invalid_value", "ts"),
        ({"ts": "2026-10-01T10:00:00"}, "invalid_value", "UTC offset"),
        ({"ts": 12}, "wrong_type", "ts"),
        ({"payer": ""}, "wrong_type", "payer"),
        ({"payer_country": "china"}, "invalid_value", "payer_country"),
        ({"mcc": "54a1"}, "invalid_value", "mcc"),
        ({"channel": "pigeon"}, "invalid_value", "channel"),
        ({"device_id": 7}, "wrong_type", "device_id"),
    ],
)
def test_bad_fields(change: dict[str, object], code: str, needle: str) -> None:
    with pytest.raises(EventError) as info:
        event_from_mapping(make(**change))
    assert info.value.code == code
    assert needle in info.value.message


def test_missing_field() -> None:
    obj = make()
    del obj["payee"]
    with pytest.raises(EventError, match="missing field 'payee'"):
        event_from_mapping(obj)


@pytest.mark.parametrize("line", [b"{", b"[1,2]", b"null", b'"text"'])
def test_not_an_object(line: bytes) -> None:
    with pytest.raises(EventError):
        parse_line(line)


def test_read_events_names_lines_and_keeps_going(tmp_path: Path) -> None:
    lines = [
        orjson.dumps(make(t=10)),
        b"{not json",
        b"",
        orjson.dumps(make(t=5)),  # earlier than the line before it: out of order
        orjson.dumps(make(t=20, currency="ZZZ")),
        orjson.dumps(make(t=30)),
    ]
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    got = list(read_events(path))
    kinds = [(n, item.error.code if isinstance(item, Rejected) else "ok") for n, item in got]
    assert kinds == [
        (1, "ok"), (2, "invalid_json"), (4, "out_of_order"), (5, "unknown_currency"), (6, "ok"),
    ]  # fmt: skip


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = ["id", "ts", "type", "amount_minor", "currency", "payer", "payee", "payer_country",
          "payee_country", "channel", "device_id", "ip", "mcc", "card"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=14))
def test_any_json_is_an_event_or_an_event_error(changes: dict[str, object]) -> None:
    """Whatever the values, validation answers with an Event or an EventError, nothing else."""
    try:
        event_from_mapping(make(**changes))
    except EventError as exc:
        assert exc.code in {"wrong_type", "missing_field", "invalid_value", "unknown_currency"}
