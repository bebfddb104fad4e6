"""ISO 8583 (1987) as rongpay speaks it with card issuers: the message spec, TCP framing, and
the small vocabularies (MTIs, response codes, entry modes) both ends share.

Why one module: the acquirer connector (`payments.channels.card`) and the sandbox issuer
(`sim.issuer`) must agree byte for byte, and a spec held twice drifts. Messages are plain
`dict[str, str]` keyed by field number as pyiso8583 uses them ("t" is the MTI), because that is
the cheapest form to build and read at thousands of messages a second.

Framing: every message travels as a 2-byte big-endian length, then the message: MTI (4 ASCII
digits), primary bitmap (16 hex characters), secondary bitmap when a field above 64 is present,
then the fields, all ASCII. Bad frames and bad messages raise `WireError` with a stable code and
a message that names the field but never repeats field data (a PAN could be in it).

Private use: field 48 carries TLV sub-elements `TTLLvalue` (2-character tag, 2-digit length):
`CV` the CVC2 (requests only, never logged or stored), `AU` cardholder authenticated (3-DS
style) `Y`/`N`, `DR` dispute reason (0422 chargeback advices).
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import iso8583
from iso8583.specs import default_ascii

Message = dict[str, str]

MAX_FRAME_BYTES = 2048  # our largest message is ~300 bytes; anything bigger is garbage
HEADER_BYTES = 2
MAX_TLV_ITEMS = 16


class WireError(ValueError):
    """A frame or message we refuse. `code`: frame_length, malformed_message, missing_field,
    bad_field, unknown_mti."""

    def __init__(self, code: str, message: str, partial: Message | None = None) -> None:
        super().__init__(message)
        self.code = code
        # What could be read before the problem (to answer 30 format error to the right STAN);
        # may hold card data, so it is never put in a log or a message.
        self.partial: Message = partial or {}


class Mti(StrEnum):
    AUTH_REQUEST = "0100"
    AUTH_REQUEST_REPEAT = "0101"
    AUTH_RESPONSE = "0110"
    FINANCIAL_REQUEST = "0200"
    FINANCIAL_REQUEST_REPEAT = "0201"
    FINANCIAL_RESPONSE = "0210"
    REVERSAL_REQUEST = "0400"
    REVERSAL_REQUEST_REPEAT = "0401"
    REVERSAL_RESPONSE = "0410"
    REVERSAL_ADVICE = "0420"
    REVERSAL_ADVICE_REPEAT = "0421"
    CHARGEBACK_ADVICE = "0422"
    CHARGEBACK_ADVICE_REPEAT = "0423"
    REVERSAL_ADVICE_RESPONSE = "0430"
    CHARGEBACK_RESPONSE = "0432"
    NETWORK_REQUEST = "0800"
    NETWORK_RESPONSE = "0810"


class ResponseCode(StrEnum):
    """Field 39 values the sandbox issuer answers and the connector understands."""

    APPROVED = "00"
    DO_NOT_HONOR = "05"
    INVALID_TRANSACTION = "12"
    INVALID_AMOUNT = "13"
    INVALID_CARD_NUMBER = "14"
    ORIGINAL_NOT_FOUND = "25"
    FORMAT_ERROR = "30"
    LOST_CARD = "41"
    STOLEN_CARD = "43"
    INSUFFICIENT_FUNDS = "51"
    EXPIRED_CARD = "54"
    NOT_PERMITTED = "57"
    SYSTEM_MALFUNCTION = "96"
    CVC_MISMATCH = "N7"
    AUTHENTICATION_REQUIRED = "1A"


class ProcessingCode(StrEnum):
    """Field 3: transaction type (2 digits), from and to account types (00: unspecified)."""

    PURCHASE = "000000"
    REFUND = "200000"


class NetworkCode(StrEnum):
    """Field 70 of 0800/0810."""

    SIGN_ON = "001"
    ECHO = "301"


# Field 22, POS entry mode (PAN entry 2 digits + PIN capability 1 digit).
ENTRY_MODES: dict[str, str] = {
    "ecommerce": "010",
    "chip": "051",
    "contactless": "071",
    "magstripe": "901",
}
ECOMMERCE_ENTRY_MODES = frozenset({"010", "812"})  # 812: e-commerce, credential on file
CARD_PRESENT_VERIFIED_MODES = frozenset({"051", "071"})  # chip/contactless: CVM at terminal
POS_CONDITION_ECOMMERCE = "59"
POS_CONDITION_NORMAL = "00"

_FIELDS: dict[str, tuple[int, int, str]] = {
    # field: (len_type: 0 fixed / 2 LLVAR / 3 LLLVAR, max_len, meaning)
    "2": (2, 19, "Primary account number"),
    "3": (0, 6, "Processing code"),
    "4": (0, 12, "Amount, transaction (minor units)"),
    "7": (0, 10, "Transmission date and time MMDDhhmmss (UTC)"),
    "11": (0, 6, "Systems trace audit number"),
    "12": (0, 6, "Time, local transaction hhmmss"),
    "13": (0, 4, "Date, local transaction MMDD"),
    "14": (0, 4, "Date, expiration YYMM"),
    "18": (0, 4, "Merchant category code"),
    "22": (0, 3, "POS entry mode"),
    "25": (0, 2, "POS condition code"),
    "32": (2, 11, "Acquiring institution id"),
    "37": (0, 12, "Retrieval reference number"),
    "38": (0, 6, "Authorization id response"),
    "39": (0, 2, "Response code"),
    "41": (0, 8, "Card acceptor terminal id"),
    "42": (0, 15, "Card acceptor id (merchant)"),
    "48": (3, 999, "Additional data, private (TLV: CV, AU, DR)"),
    "49": (0, 3, "Currency code, transaction (ISO 4217 numeric)"),
    "70": (0, 3, "Network management information code"),
    "90": (0, 42, "Original data elements"),
}


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(default_ascii)
    spec["h"]["max_len"] = 0
    for field, (len_type, max_len, desc) in _FIELDS.items():
        spec[field] = {
            "data_enc": "ascii",
            "len_enc": "ascii",
            "len_type": len_type,
            "max_len": max_len,
            "desc": desc,
        }
    return spec


SPEC: dict[str, Any] = _spec()

_NUMERIC = frozenset({"2", "3", "4", "7", "11", "12", "13", "14", "18", "22", "25", "32", "49"})
_NUMERIC |= {"70", "90"}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "0100": ("2", "3", "4", "7", "11", "14", "22", "41", "42", "49"),
    "0200": ("2", "3", "4", "7", "11", "41", "42", "49"),
    "0400": ("2", "3", "4", "7", "11", "42", "49", "90"),
    "0420": ("2", "3", "4", "7", "11", "42", "49", "90"),
    "0422": ("4", "7", "11", "37", "49"),
    "0800": ("7", "11", "70"),
    "0110": ("11", "39"),
    "0210": ("11", "39"),
    "0410": ("11", "39"),
    "0430": ("11", "39"),
    "0432": ("11", "39"),
    "0810": ("11", "39"),
}
_KNOWN_MTIS = frozenset(m.value for m in Mti)


def base_mti(mti: str) -> str:
    """The MTI with the repeat flag cleared (0401 -> 0400, 0423 -> 0422)."""
    return mti[:3] + str(int(mti[3]) & ~1)


def response_mti(mti: str) -> str:
    """The answer's MTI: function request/advice (0/2) becomes response (1/3), repeats none."""
    return mti[:2] + str(int(mti[2]) + 1) + str(int(mti[3]) & ~1)


def encode(message: Message) -> bytes:
    """MESSAGE as a frame (length header included). Bad content is a WireError."""
    try:
        body, _ = iso8583.encode(dict(message), SPEC)  # it adds bitmaps to the dict it gets
    except iso8583.EncodeError as exc:
        reason = exc.msg.split(",")[0]
        raise WireError("bad_field", f"cannot encode field {exc.field}: {reason}") from None
    if len(body) > MAX_FRAME_BYTES:
        raise WireError("frame_length", f"message of {len(body)} bytes is too long")
    return len(body).to_bytes(HEADER_BYTES, "big") + body


def decode(body: bytes) -> Message:
    """The message in BODY (one frame without its header), checked: a known MTI, the fields
    that MTI needs, numeric fields numeric. WireError otherwise."""
    try:
        decoded, _ = iso8583.decode(body, SPEC)
    except iso8583.DecodeError as exc:
        reason = exc.msg.split(",")[0]
        partial = {k: v for k, v in exc.doc_dec.items() if isinstance(v, str)}
        raise WireError(
            "malformed_message",
            f"malformed message at field {exc.field} (byte {exc.pos}): {reason}",
            partial,
        ) from None
    decoded.pop("p", None)
    decoded.pop("1", None)
    message: Message = decoded
    check(message)
    return message


def check(message: Message) -> None:
    mti = message.get("t", "")
    if mti not in _KNOWN_MTIS:
        raise WireError("unknown_mti", "unknown or missing message type", message)
    for field in _REQUIRED[base_mti(mti)]:
        if not message.get(field):
            raise WireError("missing_field", f"{mti} needs field {field}", message)
    for field in _NUMERIC.intersection(message):
        value = message[field]
        if not (value.isascii() and value.isdigit()):
            raise WireError("bad_field", f"field {field} must be numeric", message)


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's body from READER; None at a clean end of stream. A length of zero or
    above MAX_FRAME_BYTES is a WireError (the stream cannot be trusted after it)."""
    try:
        header = await reader.readexactly(HEADER_BYTES)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise WireError("frame_length", "stream ended inside a frame header") from None
        return None
    length = int.from_bytes(header, "big")
    if not 0 < length <= MAX_FRAME_BYTES:
        raise WireError("frame_length", f"frame length {length} is outside 1..{MAX_FRAME_BYTES}")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise WireError("frame_length", "stream ended inside a frame") from None


def build_tlv(items: dict[str, str]) -> str:
    """Field 48 from tag -> value (tags are 2 characters, values at most 99)."""
    parts = []
    for tag, value in items.items():
        assert len(tag) == 2 and len(value) <= 99, tag
        parts.append(f"{tag}{len(value):02d}{value}")
    return "".join(parts)


def parse_tlv(text: str) -> dict[str, str]:
    """Field 48's sub-elements; WireError if the layout is broken."""
    items: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        if len(items) >= MAX_TLV_ITEMS:
            raise WireError("bad_field", f"field 48 holds more than {MAX_TLV_ITEMS} items")
        size = text[pos + 2 : pos + 4]
        if not (size.isascii() and size.isdigit()) or pos + 4 + int(size) > len(text):
            raise WireError("bad_field", f"field 48 is malformed at position {pos}")
        items[text[pos : pos + 2]] = text[pos + 4 : pos + 4 + int(size)]
        pos += 4 + int(size)
    return items


@dataclass(frozen=True, slots=True)
class OriginalData:
    """Field 90: which earlier message a reversal, completion or refund refers to."""

    mti: str
    stan: str
    transmitted_at: str  # field 7 of the original
    acquirer_id: str  # field 32 of the original; parse() gives it zero-padded to 11 digits

    def encode(self) -> str:
        return f"{self.mti:0>4}{self.stan:0>6}{self.transmitted_at:0>10}{self.acquirer_id:0>11}" + (
            "0" * 11
        )

    @classmethod
    def parse(cls, text: str) -> OriginalData:
        if len(text) != 42 or not text.isdigit():
            raise WireError("bad_field", "field 90 must be 42 digits")
        return cls(text[:4], text[4:10], text[10:20], text[20:31])


def transmission_time(now_s: float | None = None) -> str:
    """Field 7, MMDDhhmmss in UTC."""
    return time.strftime("%m%d%H%M%S", time.gmtime(time.time() if now_s is None else now_s))


def expiry(exp_month: int, exp_year: int) -> str:
    """Field 14, YYMM."""
    return f"{exp_year % 100:02d}{exp_month:02d}"


def amount_field(amount_minor: int) -> str:
    assert 0 <= amount_minor < 10**12, "field 4 holds 12 digits"
    return f"{amount_minor:012d}"
