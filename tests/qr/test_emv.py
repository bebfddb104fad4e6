"""Decoding: the structure it returns, and each reason it refuses a payload for."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rongpay.qr import emv
from rongpay.qr.crc import checksum
from rongpay.qr.errors import QrError, QrErrorCode
from rongpay.qr.tlv import DataObject, template

from .qrhelp import BASE, EMVCO_EXAMPLE, PROMPTPAY, with_crc


def _refused(payload: str, *, strict: bool = False) -> QrError:
    with pytest.raises(QrError) as info:
        emv.decode(payload, strict=strict)
    return info.value


def test_the_emvco_example_decodes_into_nested_tags() -> None:
    d = emv.decode(EMVCO_EXAMPLE)
    assert [o.tag for o in d.objects] == [
        "00", "01", "29", "31", "52", "58", "59", "60", "64", "54", "53", "55", "62", "91", "63",
    ]  # fmt: skip
    assert d.point_of_initiation == "dynamic"
    assert d.currency is not None and d.currency.code == "CNY"
    assert emv.amount_minor(d) == 2372
    account = d.get("29")
    assert account is not None and account.children == (
        DataObject("00", "D15600000000"),
        DataObject("05", "A93FO3230Q"),
    )
    language = d.get("64")
    assert language is not None and language.child("01") == DataObject("01", "最佳运输")
    extra = d.get("62")
    assert extra is not None and [c.tag for c in extra.children or ()] == ["03", "06", "07", "09"]
    assert d.warnings == ()
    assert d.crc == "A13A" and d.crc_valid


def test_the_decoded_structure_is_frozen() -> None:
    d = emv.decode(EMVCO_EXAMPLE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.payload = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.objects[0].value = "02"  # type: ignore[misc]


def test_lengths_count_characters_not_bytes() -> None:
    body = BASE.replace("5904SHOP", "5904最佳运输")
    d = emv.decode(with_crc(body))
    assert d.value("59") == "最佳运输"


def test_promptpay_decodes_with_conformance_warnings_and_strict_refuses_it() -> None:
    d = emv.decode(PROMPTPAY)
    assert [(w.code, w.tag) for w in d.warnings] == [
        (QrErrorCode.MISSING_TAG, "52"),
        (QrErrorCode.MISSING_TAG, "59"),
        (QrErrorCode.MISSING_TAG, "60"),
    ]
    err = _refused(PROMPTPAY, strict=True)
    assert err.code == QrErrorCode.MISSING_TAG and err.tag == "52"


def test_payment_system_templates_inside_62_stay_opaque_when_they_are_not_tlv() -> None:
    inner = "0104abcd" + "5004ijkl" + "5108" + "00041234"
    d = emv.decode(with_crc(BASE + f"62{len(inner):02d}{inner}"))
    extra = d.get("62")
    assert extra is not None
    opaque, nested = extra.child("50"), extra.child("51")
    assert opaque is not None and opaque.children is None and opaque.value == "ijkl"
    assert nested is not None and nested.children == (DataObject("00", "1234"),)


@pytest.mark.parametrize(
    ("payload", "code", "tag"),
    [
        ("0" * 513, QrErrorCode.TOO_LONG, None),
        (with_crc(BASE.replace("SHOP", "SH\nP")), QrErrorCode.INVALID_CHARACTER, None),
        (BASE.replace("SHOP", "SH\ud800P") + "63040000", QrErrorCode.INVALID_CHARACTER, None),
        ("", QrErrorCode.CRC_MISSING, "63"),
        (BASE, QrErrorCode.CRC_MISSING, "63"),
        (with_crc(BASE)[:-4] + "0000", QrErrorCode.CRC_MISMATCH, "63"),
        (EMVCO_EXAMPLE[:-4] + "a13a", QrErrorCode.CRC_MISMATCH, "63"),
        (with_crc(BASE + "5"), QrErrorCode.MALFORMED_TLV, None),
        (with_crc(BASE + "61991"), QrErrorCode.MALFORMED_TLV, None),
        (with_crc(BASE + "6100"), QrErrorCode.MALFORMED_TLV, None),
        (with_crc(BASE + "6A02ab"), QrErrorCode.MALFORMED_TLV, None),
        (with_crc(BASE + "62050103a"), QrErrorCode.MALFORMED_TLV, None),
        (with_crc("000202" + BASE[6:]), QrErrorCode.PAYLOAD_FORMAT, "00"),
        (with_crc(BASE[6:] + "000201"), QrErrorCode.PAYLOAD_FORMAT, "00"),
        (with_crc(BASE + "5802CN"), QrErrorCode.DUPLICATE_TAG, "58"),
        (with_crc(BASE + "6212" + "0102ab0102cd"), QrErrorCode.DUPLICATE_TAG, "62.01"),
        (with_crc(BASE + "540412,5"), QrErrorCode.INVALID_VALUE, "54"),
        (with_crc(BASE + "54051.234"), QrErrorCode.INVALID_VALUE, "54"),
        (with_crc(BASE.replace("5802CN", "5802C1")), QrErrorCode.INVALID_VALUE, "58"),
        (with_crc(BASE.replace("5303156", "5303999")), QrErrorCode.INVALID_VALUE, "53"),
        (with_crc(BASE.replace("52045812", "5204581A")), QrErrorCode.INVALID_VALUE, "52"),
        (with_crc(BASE + "010213"), QrErrorCode.INVALID_VALUE, "01"),
        (with_crc(BASE + "550204"), QrErrorCode.INVALID_VALUE, "55"),
        (with_crc(BASE.replace("5303156", "")), QrErrorCode.MISSING_TAG, "53"),
        (with_crc(BASE.replace("5802CN", "")), QrErrorCode.MISSING_TAG, "58"),
        (with_crc(BASE.replace("26160004test0104abcd", "")), QrErrorCode.MISSING_TAG, "02-51"),
        (with_crc(BASE.replace("26160004test0104abcd", "26080104abcd")),
         QrErrorCode.MISSING_TAG, "26.00"),
    ],
)  # fmt: skip
def test_each_refusal_has_its_code(payload: str, code: QrErrorCode, tag: str | None) -> None:
    err = _refused(payload)
    assert err.code == code, err.message
    assert err.message and str(err) == err.message
    if tag is not None:
        assert err.tag == tag


def test_crc_mismatch_says_expected_and_found() -> None:
    good = with_crc(BASE)
    err = _refused(good[:-4] + "0000")
    assert "'0000'" in err.message and repr(good[-4:]) in err.message


def test_malformed_tlv_names_the_position_even_inside_a_template() -> None:
    err = _refused(with_crc(BASE + "61991"))
    assert err.position == len(BASE) and f"position {len(BASE)}" in err.message
    inner = _refused(with_crc(BASE + "62050103a"))
    assert inner.position == len(BASE) + 4  # where 62's value starts


def test_a_crc_inside_a_value_is_not_taken_for_the_crc() -> None:
    # the name's value ends in "6304" + the right checksum, so the tail looks like a CRC
    head = BASE.replace("5904SHOP", "") + "5910AB6304"
    err = _refused(head + checksum(head))
    assert err.code == QrErrorCode.CRC_MISSING and "tag 59" in err.message


def test_conformance_limits_are_warnings_unless_strict() -> None:
    payload = with_crc(BASE.replace("6004CITY", "6016Sao Joao del Rei"))
    d = emv.decode(payload)
    assert [(w.code, w.tag) for w in d.warnings] == [(QrErrorCode.INVALID_VALUE, "60")]
    assert "at most 15" in d.warnings[0].message
    assert _refused(payload, strict=True).code == QrErrorCode.INVALID_VALUE


def test_tip_indicator_rules_are_conformance_rules() -> None:
    fee_without_value = with_crc(BASE + "550202")
    assert [w.tag for w in emv.decode(fee_without_value).warnings] == ["56"]
    fee = with_crc(BASE + "550202" + "56031.5")
    assert emv.decode(fee, strict=True).value("56") == "1.5"


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("23.72", "156", 2372), ("10", "156", 1000), ("10.", "156", 1000), ("0.5", "156", 50),
     ("1234", "392", 1234), ("1.234", "048", 1234), ("0", "986", 0)],
)  # fmt: skip
def test_amount_minor(amount: str, currency: str, minor: int) -> None:
    body = BASE.replace("5303156", f"5303{currency}") + f"54{len(amount):02d}{amount}"
    assert emv.amount_minor(emv.decode(with_crc(body))) == minor


def test_amount_minor_refuses_more_decimals_than_the_currency_has() -> None:
    for amount, currency in (("1.5", "392"), ("1.00", "392"), ("0.001", "156")):
        body = BASE.replace("5303156", f"5303{currency}") + f"54{len(amount):02d}{amount}"
        err = _refused(with_crc(body))
        assert err.code == QrErrorCode.INVALID_VALUE and err.tag == "54"
        assert "decimal place" in err.message
    decoded = emv.decode(with_crc(BASE + "010211"))
    assert emv.amount_minor(decoded) is None
    forged = dataclasses.replace(decoded, objects=(*decoded.objects[:-1], DataObject("54", "1.234"),
                                                   decoded.objects[-1]))  # fmt: skip
    with pytest.raises(QrError) as info:
        emv.amount_minor(forged)
    assert info.value.code == QrErrorCode.INVALID_VALUE


def test_encode_recomputes_the_crc_and_refuses_oversized_payloads() -> None:
    d = emv.decode(with_crc(BASE))
    assert emv.encode(o for o in d.objects if o.tag != "63") == d.payload
    big = [*d.objects[:-1], DataObject("80", "x" * 99)] + [
        DataObject(str(n), "x" * 99) for n in range(81, 86)
    ]
    with pytest.raises(QrError) as info:
        emv.encode(big)
    assert info.value.code == QrErrorCode.TOO_LONG
    for bad in (DataObject("80", "x" * 100), DataObject("80", ""), DataObject("8", "x")):
        with pytest.raises(QrError) as info:
            emv.encode([*d.objects[:-1], bad])
        assert info.value.code == QrErrorCode.INVALID_VALUE


# --- property: any well-formed payload re-encodes to itself -----------------------------------

_printable = st.characters(exclude_categories=("Cc", "Cs"))
_value = st.text(_printable, min_size=1, max_size=20)


@st.composite
def _template(draw: st.DrawFn, tag: str) -> DataObject:
    subs = draw(st.lists(st.sampled_from([f"{n:02d}" for n in range(1, 100)]), max_size=3,
                         unique=True))  # fmt: skip
    return template(tag, [DataObject("00", draw(_value))] + [
        DataObject(s, draw(_value)) for s in sorted(subs)
    ])  # fmt: skip


@st.composite
def _extras(draw: st.DrawFn) -> list[DataObject]:
    ids = draw(st.lists(st.integers(65, 99), max_size=4, unique=True))
    out = []
    for n in sorted(ids):
        tag = f"{n:02d}"
        out.append(draw(_template(tag)) if n >= 80 else DataObject(tag, draw(_value)))
    return out


@settings(max_examples=200, deadline=None)
@given(extras=_extras(), opaque=_value, order=st.randoms(use_true_random=False))
def test_well_formed_payloads_reencode_to_themselves(
    extras: list[DataObject], opaque: str, order: Any
) -> None:
    objects = [DataObject("62", f"50{len(opaque):02d}{opaque}"), *extras]
    order.shuffle(objects)
    payload = with_crc(BASE + "".join(o.encode() for o in objects))
    d = emv.decode(payload)
    assert emv.encode(d) == payload
    for o in extras:
        assert d.get(o.tag) == o


@st.composite
def _garbled(draw: st.DrawFn) -> str:
    """A valid payload with a few characters inserted, deleted or replaced, CRC fixed up or
    not: reaches the structure checks behind the CRC."""
    text = draw(st.sampled_from([EMVCO_EXAMPLE, PROMPTPAY, with_crc(BASE)]))[:-8]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        piece = draw(st.text(st.sampled_from("0123456789AZ.é\n"), max_size=3))
        cut = draw(st.integers(0, 3))
        text = text[:i] + piece + text[i + cut :]
    return with_crc(text) if draw(st.booleans()) else text + "6304ABCD"


@settings(max_examples=300, deadline=None)
@given(payload=st.text(max_size=600) | _garbled())
def test_any_text_decodes_or_raises_a_qr_error(payload: str) -> None:
    try:
        d = emv.decode(payload)
    except QrError as exc:
        assert exc.code in set(QrErrorCode) and exc.message
    else:
        assert emv.encode(d) == payload
