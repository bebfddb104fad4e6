"""Transaction events (DESIGN.md event format), read line by line with per-line errors.

A bad line never stops a scan: `read_events` yields an `EventFormatError` naming the line in
place of the event, and the caller reports it and goes on. Unknown extra fields are ignored;
missing optional ones are None.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson

from rongpay.compliance.errors import EventFormatError
from rongpay.compliance.reference import cny_factors, countries, to_cny_minor
from rongpay.money import currencies

MAX_LINE_BYTES = 1_000_000
MAX_AMOUNT_MINOR = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_END = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # the last second a UTC year can hold


class EventType(StrEnum):
    PAYMENT = "payment"
    TRANSFER = "transfer"
    TOPUP = "topup"
    WITHDRAWAL = "withdrawal"
    REFUND = "refund"


_TYPES = frozenset(EventType)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    ts_s: int
    type: str
    amount_minor: int
    currency: str
    payer: str | None
    payee: str | None
    payer_country: str | None
    payee_country: str | None
    channel: str | None
    mcc: str | None
    amount_cny_minor: int


def parse_event(raw: Any, line: int) -> Event:
    """One decoded JSON object -> Event, or EventFormatError naming LINE."""
    if not isinstance(raw, dict):
        raise EventFormatError("not a JSON object", line)
    eid = raw.get("id")
    if not isinstance(eid, str) or not eid:
        raise EventFormatError("missing or empty 'id'", line)
    etype = raw.get("type")
    if etype not in _TYPES:
        raise EventFormatError(f"event {eid}: 'type' must be one of {', '.join(_TYPES)}", line)
    amount = raw.get("amount_minor")
    if (
        not isinstance(amount, int)
        or isinstance(amount, bool)
        or not 0 <= amount <= MAX_AMOUNT_MINOR
    ):
        raise EventFormatError(f"event {eid}: 'amount_minor' must be a non-negative integer", line)
    currency = raw.get("currency")
    if not isinstance(currency, str) or currency not in currencies():
        raise EventFormatError(f"event {eid}: unknown currency {currency!r}", line)
    if currency not in cny_factors():
        raise EventFormatError(f"event {eid}: no reference CNY rate for {currency}", line)
    return Event(
        id=eid,
        ts_s=_timestamp(raw.get("ts"), eid, line),
        type=etype,
        amount_minor=amount,
        currency=currency,
        payer=_account(raw, "payer", eid, line),
        payee=_account(raw, "payee", eid, line),
        payer_country=_country(raw, "payer_country", eid, line),
        payee_country=_country(raw, "payee_country", eid, line),
        channel=_optional_str(raw, "channel", eid, line),
        mcc=_optional_str(raw, "mcc", eid, line),
        amount_cny_minor=to_cny_minor(amount, currency),
    )


def _timestamp(value: Any, eid: str, line: int) -> int:
    if not isinstance(value, str):
        raise EventFormatError(f"event {eid}: missing 'ts'", line)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise EventFormatError(f"event {eid}: 'ts' {value!r} is not RFC 3339", line) from None
    if dt.tzinfo is None:
        raise EventFormatError(f"event {eid}: 'ts' {value!r} has no time zone", line)
    # Compared as aware datetimes (no conversion that could overflow): in UTC the time must
    # fall in 1970..9999, or it could not be printed back in alerts and reports.
    if not _EPOCH <= dt <= _END:
        raise EventFormatError(
            f"event {eid}: 'ts' {value!r} is outside 1970-01-01..9999-12-31 UTC", line
        )
    return (dt - _EPOCH) // timedelta(seconds=1)


def _account(raw: dict[str, Any], key: str, eid: str, line: int) -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and value):
        return value
    raise EventFormatError(f"event {eid}: '{key}' must be an account id or null", line)


def _country(raw: dict[str, Any], key: str, eid: str, line: int) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or value.upper() not in countries():
        raise EventFormatError(f"event {eid}: unknown country {value!r} in '{key}'", line)
    return value.upper()


def _optional_str(raw: dict[str, Any], key: str, eid: str, line: int) -> str | None:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    raise EventFormatError(f"event {eid}: '{key}' must be a string or null", line)


def decode_lines(
    lines: Iterable[bytes],
) -> Iterator[tuple[int, dict[str, Any] | EventFormatError]]:
    """(line number, decoded object or error) for each non-blank line."""
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            yield n, EventFormatError(f"line longer than {MAX_LINE_BYTES} bytes", n)
            continue
        try:
            yield n, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield n, EventFormatError(f"not valid JSON ({exc})", n)


def read_events(lines: Iterable[bytes]) -> Iterator[Event | EventFormatError]:
    """Events of a JSON Lines stream, with an EventFormatError in place of each bad line."""
    for n, raw in decode_lines(lines):
        if isinstance(raw, EventFormatError):
            yield raw
            continue
        try:
            yield parse_event(raw, n)
        except EventFormatError as exc:
            yield exc
