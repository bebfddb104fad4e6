"""The ISO 8583 codec: round trips for every MTI we speak, and refusal of malformed input."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rongpay.wire import iso8583 as wire

PAN = "4242424242424242"
BASE = {"7": "1125153000", "11": "000042"}
MESSAGES = [
    {"t": "0100", "2": PAN, "3": "000000", "4": "000000001000", "14": "3012", "18": "5999",
     "22": "010", "25": "59", "32": "123456", "41": "RONGPAY1", "42": "merchant_1     ",
     "48": wire.build_tlv({"CV": "123", "AU": "Y"}), "49": "840", **BASE},
    {"t": "0110", "37": "532900000001", "38": "000001", "39": "00", **BASE},
    {"t": "0200", "2": PAN, "3": "200000", "4": "000000000500", "37": "532900000001",
     "41": "RONGPAY1", "42": "merchant_1     ", "49": "978",
     "90": wire.OriginalData("0100", "000041", "1125152959", "123456").encode(), **BASE},
    {"t": "0210", "39": "51", **BASE},
    {"t": "0401", "2": PAN, "3": "000000", "4": "000000001000", "42": "merchant_1     ",
     "49": "840", "90": "0" * 42, **BASE},
    {"t": "0410", "39": "25", **BASE},
    {"t": "0420", "2": PAN, "3": "000000", "4": "000000001000", "42": "merchant_1     ",
     "49": "840", "90": "0" * 42, **BASE},
    {"t": "0430", "39": "00", **BASE},
    {"t": "0422", "4": "000000002000", "37": "532900000001", "49": "392",
     "48": "DR10fraudulent", **BASE},
    {"t": "0432", "37": "532900000001", "39": "00", **BASE},
    {"t": "0800", "70": "301", **BASE},
    {"t": "0810", "39": "00", **BASE},
]  # fmt: skip


@pytest.mark.parametrize("message", MESSAGES, ids=[m["t"] for m in MESSAGES])
def test_round_trip(message):
    frame = wire.encode(message)
    assert int.from_bytes(frame[:2], "big") == len(frame) - 2
    assert wire.decode(frame[2:]) == message
    assert "p" not in message  # encode leaves the caller's dict alone


def test_secondary_bitmap_only_when_needed():
    short = wire.encode(MESSAGES[1])[2:]
    long = wire.encode(MESSAGES[2])[2:]
    assert short[4:5] in b"01234567"  # first bitmap bit off: no secondary bitmap
    assert long[4:5] in b"89ABCDEF"


def test_frame_is_ascii_after_the_header():
    assert wire.encode(MESSAGES[0])[2:].isascii()


def good_body() -> bytes:
    return wire.encode(MESSAGES[0])[2:]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "malformed_message"),
        (b"01", "malformed_message"),
        (b"0100ZZZZ", "malformed_message"),
        (good_body()[:-5], "malformed_message"),
        (good_body() + b"extra", "malformed_message"),
        (b"\xff\xfe" + good_body()[2:], "malformed_message"),
        (b"0999" + good_body()[4:], "unknown_mti"),
    ],
)
def test_malformed_bodies_are_refused(body, code):
    with pytest.raises(wire.WireError) as info:
        wire.decode(body)
    assert info.value.code == code
    assert PAN not in str(info.value)


def test_missing_and_non_numeric_fields():
    message = {k: v for k, v in MESSAGES[0].items() if k != "4"}
    with pytest.raises(wire.WireError) as info:
        wire.decode(wire.encode(message)[2:])
    assert (info.value.code, str(info.value)) == ("missing_field", "0100 needs field 4")
    bad = {**MESSAGES[0], "4": "00000000x000"}
    with pytest.raises(wire.WireError) as info:
        wire.decode(wire.encode(bad)[2:])
    assert info.value.code == "bad_field" and "field 4" in str(info.value)
    assert info.value.partial["11"] == "000042"  # enough to answer with a format error


def test_unencodable_fields():
    with pytest.raises(wire.WireError) as info:
        wire.encode({**MESSAGES[0], "4": "1"})  # fixed 12 digits
    assert info.value.code == "bad_field"
    with pytest.raises(wire.WireError):
        wire.encode({**MESSAGES[0], "2": PAN * 2})
    assert PAN not in str(info.value)


def read(data: bytes) -> bytes | None:
    async def go() -> bytes | None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await wire.read_frame(reader)

    return asyncio.run(go())


def test_read_frame():
    frame = wire.encode(MESSAGES[1])
    assert read(frame) == frame[2:]
    assert read(b"") is None
    for bad in (b"\x00", b"\x00\x00", b"\xff\xff" + b"x" * 10, frame[:-1]):
        with pytest.raises(wire.WireError) as info:
            read(bad)
        assert info.value.code == "frame_length"


def test_mti_arithmetic():
    pairs = {"0100": "0110", "0200": "0210", "0401": "0410", "0420": "0430", "0423": "0432"}
    for request, answer in pairs.items():
        assert wire.response_mti(request) == answer
    assert wire.base_mti("0401") == "0400" and wire.base_mti("0423") == "0422"


def test_tlv_and_original_data():
    items = {"CV": "1234", "AU": "N", "DR": "fraudulent"}
    assert wire.parse_tlv(wire.build_tlv(items)) == items
    assert wire.parse_tlv("") == {}
    for bad in ("CV", "CV9", "CV05123", "CVxx12"):
        with pytest.raises(wire.WireError):
            wire.parse_tlv(bad)
    original = wire.OriginalData("0100", "000041", "1125152959", "00000123456")
    assert wire.OriginalData.parse(original.encode()) == original
    with pytest.raises(wire.WireError):
        wire.OriginalData.parse("12")
    assert wire.expiry(3, 2031) == "3103"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_refuse(data):
    try:
        message = wire.decode(data)
    except wire.WireError as exc:
        assert exc.code
    else:
        assert message["t"] in {m.value for m in wire.Mti}


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(good_body()) - 1), st.integers(0, 255))
def test_a_corrupted_byte_is_refused_or_still_valid(position, value):
    body = bytearray(good_body())
    body[position] = value
    try:
        wire.decode(bytes(body))
    except wire.WireError as exc:
        assert PAN not in str(exc)
