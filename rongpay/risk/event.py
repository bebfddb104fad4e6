"""Transaction events (DESIGN.md's JSON Lines format), validated into a frozen record.

Every rejection is an EventError whose `code` names the problem (invalid_json, wrong_type,
missing_field, unknown_currency, invalid_value, out_of_order) and whose message names the field.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from rongpay.money import currencies
from rongpay.risk.errors import EventError

MAX_AMOUNT_MINOR = 2**63 - 1
MAX_LINE_BYTES = 1 << 20  # a longer line is rejected, never parsed


class EventType(enum.StrEnum):
    PAYMENT = "payment"
    TRANSFER = "transfer"
    TOPUP = "topup"
    WITHDRAWAL = "withdrawal"
    REFUND = "refund"


class Channel(enum.StrEnum):
    CARD = "card"
    WALLET = "wallet"
    BANK = "bank"
    QR = "qr"
    NFC = "nfc"
    POS = "pos"


EVENT_TYPES = frozenset(EventType)
CHANNELS = frozenset(Channel)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    ts: str
    ts_s: float
    type: str
    amount_minor: int
    currency: str
    payer: str
    payee: str
    payer_country: str | None = None
    payee_country: str | None = None
    channel: str | None = None
    device_id: str | None = None
    ip: str | None = None
    mcc: str | None = None
    card: str | None = None


# A frozen dataclass sets each field through object.__setattr__ (~1.8 us for Event's 15); the
# fast parse path fills the slots through their descriptors instead (~0.9 us), same result.
(_S_ID, _S_TS, _S_TS_S, _S_TYPE, _S_AMOUNT, _S_CURRENCY, _S_PAYER, _S_PAYEE, _S_PAYER_COUNTRY,
 _S_PAYEE_COUNTRY, _S_CHANNEL, _S_DEVICE, _S_IP, _S_MCC, _S_CARD) = (
    Event.__dict__[name].__set__
    for name in ("id", "ts", "ts_s", "type", "amount_minor", "currency", "payer", "payee",
                 "payer_country", "payee_country", "channel", "device_id", "ip", "mcc", "card")
)  # fmt: skip
_new_object = object.__new__


@cache
def _currency_codes() -> frozenset[str]:
    return frozenset(currencies())


def parse_ts(value: object) -> float:
    if not isinstance(value, str):
        raise EventError(f"field 'ts' must be an RFC 3339 string, got {_kind(value)}", "wrong_type")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise EventError(f"field 'ts' is not RFC 3339: {value[:40]!r}", "invalid_value") from None
    if when.tzinfo is None:
        raise EventError("field 'ts' has no UTC offset (write ...Z)", "invalid_value")
    return when.timestamp()


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__.replace("dict", "object")


def _text(obj: Mapping[str, Any], name: str, required: bool) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise EventError(f"missing field {name!r}", "missing_field")
        return None
    if not isinstance(value, str) or (required and not value):
        raise EventError(
            f"field {name!r} must be a non-empty string, got {_kind(value)}", "wrong_type"
        )
    return value


def _country(obj: Mapping[str, Any], name: str) -> str | None:
    value = _text(obj, name, False)
    if value is not None and (len(value) != 2 or not value.isalpha() or not value.isupper()):
        raise EventError(
            f"field {name!r} must be ISO 3166 alpha-2 like 'CN', got {value[:10]!r}",
            "invalid_value",
        )
    return value


def _enum(obj: Mapping[str, Any], name: str, allowed: frozenset[str], required: bool) -> str | None:
    value = _text(obj, name, required)
    if value is not None and value not in allowed:
        choices = "|".join(sorted(allowed))
        raise EventError(
            f"field {name!r} must be one of {choices}, got {value[:20]!r}", "invalid_value"
        )
    return value


def _amount(obj: Mapping[str, Any]) -> int:
    value = obj.get("amount_minor")
    if value is None:
        raise EventError("missing field 'amount_minor'", "missing_field")
    if not isinstance(value, int) or isinstance(value, bool):
        raise EventError(
            f"field 'amount_minor' must be an integer of minor units, got {_kind(value)}",
            "wrong_type",
        )
    if not 0 <= value <= MAX_AMOUNT_MINOR:
        raise EventError("field 'amount_minor' must be between 0 and 2^63-1", "invalid_value")
    return value


def _optional_ok(obj: dict[str, Any]) -> bool:
    for name in ("device_id", "ip", "card"):
        v = obj.get(name)
        if v is not None and type(v) is not str:
            return False
    for name in ("payer_country", "payee_country"):
        v = obj.get(name)
        if v is not None and not (type(v) is str and len(v) == 2 and v.isalpha() and v.isupper()):
            return False
    channel, mcc = obj.get("channel"), obj.get("mcc")
    return (channel is None or (type(channel) is str and channel in CHANNELS)) and (
        mcc is None or (type(mcc) is str and len(mcc) == 4 and mcc.isdigit())
    )


def _fast(obj: dict[str, Any]) -> Event | None:
    """The common case in one pass; None sends the caller to the path that explains errors."""
    get = obj.get
    eid, ts, kind, amount, currency = (
        get("id"),
        get("ts"),
        get("type"),
        get("amount_minor"),
        get("currency"),
    )
    payer, payee = get("payer"), get("payee")
    if not (
        type(eid) is str and eid and type(ts) is str and type(kind) is str and kind in EVENT_TYPES
        and type(amount) is int and 0 <= amount <= MAX_AMOUNT_MINOR
        and type(currency) is str and currency in _currency_codes() and type(payer) is str and payer
        and type(payee) is str and payee and _optional_ok(obj)
    ):  # fmt: skip
        return None
    try:
        when = dt.datetime.fromisoformat(ts)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    ev: Event = _new_object(Event)
    _S_ID(ev, eid)
    _S_TS(ev, ts)
    _S_TS_S(ev, when.timestamp())
    _S_TYPE(ev, kind)
    _S_AMOUNT(ev, amount)
    _S_CURRENCY(ev, currency)
    _S_PAYER(ev, payer)
    _S_PAYEE(ev, payee)
    _S_PAYER_COUNTRY(ev, get("payer_country"))
    _S_PAYEE_COUNTRY(ev, get("payee_country"))
    _S_CHANNEL(ev, get("channel"))
    _S_DEVICE(ev, get("device_id"))
    _S_IP(ev, get("ip"))
    _S_MCC(ev, get("mcc"))
    _S_CARD(ev, get("card"))
    return ev


def event_from_mapping(obj: object) -> Event:
    """Validate one decoded JSON value into an Event (labels and unknown fields ignored)."""
    if type(obj) is dict:
        fast = _fast(obj)
        if fast is not None:
            return fast
    if not isinstance(obj, dict):
        raise EventError(f"an event must be a JSON object, got {_kind(obj)}", "wrong_type")
    event_id = _text(obj, "id", True) or ""
    ts = _text(obj, "ts", True) or ""
    ts_s = parse_ts(ts)
    kind = _enum(obj, "type", EVENT_TYPES, True) or ""
    amount = _amount(obj)
    currency = _text(obj, "currency", True) or ""
    if currency not in _currency_codes():
        raise EventError(
            f"unknown currency {currency[:10]!r}: use an ISO 4217 code", "unknown_currency"
        )
    mcc = _text(obj, "mcc", False)
    if mcc is not None and (len(mcc) != 4 or not mcc.isdigit()):
        raise EventError(f"field 'mcc' must be 4 digits, got {mcc[:10]!r}", "invalid_value")
    return Event(
        id=event_id,
        ts=ts,
        ts_s=ts_s,
        type=kind,
        amount_minor=amount,
        currency=currency,
        payer=_text(obj, "payer", True) or "",
        payee=_text(obj, "payee", True) or "",
        payer_country=_country(obj, "payer_country"),
        payee_country=_country(obj, "payee_country"),
        channel=_enum(obj, "channel", CHANNELS, False),
        device_id=_text(obj, "device_id", False),
        ip=_text(obj, "ip", False),
        mcc=mcc,
        card=_text(obj, "card", False),
    )


def parse_line(line: bytes) -> Event:
    if len(line) > MAX_LINE_BYTES:
        raise EventError(f"line longer than {MAX_LINE_BYTES} bytes", "invalid_json")
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise EventError(f"malformed JSON ({exc.msg})", "invalid_json") from None
    return event_from_mapping(obj)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line that was not processed, and why."""

    line_no: int
    error: EventError


def read_events(source: Path | BinaryIO) -> Iterator[tuple[int, Event | Rejected]]:
    """(line number, Event or Rejected) for each non-blank line of SOURCE (a file path or an
    open binary stream such as stdin), enforcing time order."""
    if isinstance(source, Path):
        with source.open("rb") as fh:
            yield from _read_stream(fh)
    else:
        yield from _read_stream(source)


def _read_stream(fh: BinaryIO) -> Iterator[tuple[int, Event | Rejected]]:
    last_ts = float("-inf")
    for line_no, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            event = parse_line(line)
        except EventError as exc:
            yield line_no, Rejected(line_no, exc)
            continue
        if event.ts_s < last_ts:
            err = EventError(
                f"event {event.id[:40]!r} at {event.ts} is earlier than the event before "
                "it; events must be in time order",
                "out_of_order",
            )
            yield line_no, Rejected(line_no, err)
            continue
        last_ts = event.ts_s
        yield line_no, event
