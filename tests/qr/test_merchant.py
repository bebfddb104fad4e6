"""Encoding from fields: what it writes, what it refuses, and round trips (hypothesis)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rongpay.money import currencies
from rongpay.qr import emv
from rongpay.qr.errors import QrError, QrErrorCode
from rongpay.qr.merchant import (
    Account,
    AdditionalData,
    AlternateLanguage,
    MerchantQr,
    build,
)

from .qrhelp import EMVCO_EXAMPLE, samples

PIX = Account("br.gov.bcb.pix", (("01", "123e4567-e12b-12d1-a456-426655440000"),))


def _qr(**changes: object) -> MerchantQr:
    fields: dict[str, object] = {
        "merchant_name": "Fulano de Tal", "merchant_city": "BRASILIA", "country": "BR",
        "mcc": "0000", "currency": "BRL", "accounts": (PIX,),
        "additional": AdditionalData(reference_label="***"),
    }  # fmt: skip
    fields.update(changes)
    return MerchantQr(**fields)  # type: ignore[arg-type]


def test_a_static_pix_code_matches_the_central_bank_example() -> None:
    # Banco Central do Brasil's static example, one of the anchor samples
    expected = (
        "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
        "5913Fulano de Tal6008BRASILIA62070503***63041D3D"
    )
    built = emv.decode(build(_qr()))
    assert built.value("01") == "11"  # static: no amount
    without_initiation = [o for o in built.objects if o.tag not in ("01", "63")]
    assert without_initiation == list(emv.decode(expected).objects[:-1])


def test_the_emvco_example_rebuilt_from_fields_has_the_same_data() -> None:
    qr = MerchantQr(
        merchant_name="BEST TRANSPORT", merchant_city="BEIJING", country="CN", mcc="4111",
        currency="156", amount_minor=2372,
        accounts=(Account("D15600000000", (("05", "A93FO3230Q"),), tag="29"),
                  Account("D15600000001", (("03", "12345678"),), tag="31")),
        alternate_language=AlternateLanguage("ZH", "最佳运输", "北京"),
    )  # fmt: skip
    built = emv.decode(build(qr))
    example = emv.decode(EMVCO_EXAMPLE)
    for tag in ("00", "01", "29", "31", "52", "53", "54", "58", "59", "60", "64"):
        assert built.get(tag) == example.get(tag), tag


def test_amounts_use_the_currency_exponent() -> None:
    for currency, minor, text in (("CNY", 2372, "23.72"), ("CNY", 5, "0.05"),
                                  ("JPY", 1234, "1234"), ("BHD", 1500, "1.500")):  # fmt: skip
        d = emv.decode(build(_qr(currency=currency, amount_minor=minor)))
        assert d.value("54") == text and emv.amount_minor(d) == minor
        assert d.point_of_initiation == "dynamic"
    assert emv.decode(build(_qr())).point_of_initiation == "static"
    static_with_amount = build(_qr(amount_minor=100, point_of_initiation="static"))
    assert emv.decode(static_with_amount).value("01") == "11"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"merchant_name": "x" * 26}, "merchant_name"),
        ({"merchant_name": ""}, "merchant_name"),
        ({"merchant_name": "a\tb"}, "merchant_name"),
        ({"merchant_city": "x" * 16}, "merchant_city"),
        ({"country": "BRA"}, "country"),
        ({"mcc": "12345"}, "mcc"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": 986}, "currency"),
        ({"amount_minor": 0}, "amount"),
        ({"amount_minor": -5}, "amount"),
        ({"amount_minor": True}, "amount"),
        ({"amount_minor": 10**13}, "amount"),
        ({"point_of_initiation": "sometimes"}, "point_of_initiation"),
        ({"accounts": ()}, "accounts"),
        ({"accounts": (Account("g" * 33, (("01", "v"),)),)}, "accounts[0].gui"),
        ({"accounts": (Account("g", (("1", "v"),)),)}, "accounts[0].fields"),
        ({"accounts": (Account("g", (("00", "v"),)),)}, "accounts[0].fields"),
        ({"accounts": (Account("g", (("01", "v" * 98),)),)}, "accounts[0]"),
        ({"accounts": (Account("g", (), tag="25"),)}, "accounts[0].tag"),
        ({"accounts": (Account("g", (), tag="26"), Account("h", (), tag="26"))},
         "accounts[1].tag"),
        ({"additional": AdditionalData(bill_number="b" * 26)}, "bill_number"),
        ({"additional": AdditionalData(consumer_data_request="AX")}, "consumer_data_request"),
        ({"alternate_language": AlternateLanguage("ZHO", "名")}, "alternate_language.language"),
    ],
)  # fmt: skip
def test_bad_fields_are_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(QrError) as info:
        build(_qr(**changes))
    assert info.value.code == QrErrorCode.INVALID_VALUE
    assert info.value.field == field and info.value.message.startswith(field)


def test_a_payload_over_512_characters_is_too_long() -> None:
    accounts = tuple(Account("g" * 32, (("01", "v" * 55),)) for _ in range(6))
    with pytest.raises(QrError) as info:
        build(_qr(accounts=accounts))
    assert info.value.code == QrErrorCode.TOO_LONG


# --- properties -----------------------------------------------------------------------------

printable = st.characters(exclude_categories=("Cc", "Cs"))
text = st.text(printable, min_size=1, max_size=25)
ascii_id = st.text(string.ascii_letters + string.digits + ".-", min_size=1, max_size=32)
account = st.builds(
    Account, gui=ascii_id,
    fields=st.tuples(st.tuples(st.just("01"), st.text(printable, min_size=1, max_size=40))),
)  # fmt: skip
fields = st.builds(
    MerchantQr,
    merchant_name=text,
    merchant_city=st.text(printable, min_size=1, max_size=15),
    country=st.text(string.ascii_uppercase, min_size=2, max_size=2),
    mcc=st.text(string.digits, min_size=4, max_size=4),
    currency=st.sampled_from(sorted(currencies())),
    accounts=st.lists(account, min_size=1, max_size=3).map(tuple),
    amount_minor=st.none() | st.integers(min_value=1, max_value=10**9),
    postal_code=st.none() | st.text(string.digits, min_size=1, max_size=10),
    additional=st.none() | st.builds(AdditionalData, bill_number=text, reference_label=text),
    alternate_language=st.none() | st.builds(AlternateLanguage, st.just("ZH"), text),
)


@settings(max_examples=200, deadline=None)
@given(qr=fields)
def test_encode_then_decode_round_trips(qr: MerchantQr) -> None:
    payload = build(qr)
    d = emv.decode(payload, strict=True)
    assert emv.encode(d) == payload
    assert d.value("59") == qr.merchant_name and d.value("60") == qr.merchant_city
    assert d.value("58") == qr.country and d.value("52") == qr.mcc
    # numeric codes are what the payload carries (ANG and XCG share 532)
    assert d.currency is not None and d.currency.number == currencies()[qr.currency].number
    assert emv.amount_minor(d) == qr.amount_minor
    assert d.point_of_initiation == ("static" if qr.amount_minor is None else "dynamic")
    got = [(o.child("00"), o.child("01")) for o in d.accounts]
    assert [(g.value if g else None, v.value if v else None) for g, v in got] == [
        (a.gui, a.fields[0][1]) for a in qr.accounts
    ]
    if qr.alternate_language is not None:
        language = d.get("64")
        assert language is not None and language.child("01") is not None
        assert language.child("01").value == qr.alternate_language.merchant_name  # type: ignore[union-attr]


@st.composite
def one_char_changed(draw: st.DrawFn) -> tuple[str, str, int]:
    pool = [s.payload for s in samples() if s.crc_ok]
    payload = draw(st.sampled_from(pool) | fields.map(build))
    ascii_positions = [i for i, c in enumerate(payload) if c.isascii()]
    i = draw(st.sampled_from(ascii_positions))
    new = draw(st.sampled_from(string.printable[:95]).filter(lambda c: c != payload[i]))
    return payload, payload[:i] + new + payload[i + 1 :], i


@settings(max_examples=300, deadline=None)
@given(case=one_char_changed())
def test_a_one_character_change_is_caught_by_the_crc(case: tuple[str, str, int]) -> None:
    original, changed, i = case
    with pytest.raises(QrError) as info:
        emv.decode(changed)
    in_content, in_checksum = i < len(original) - 8, i >= len(original) - 4
    if in_content or in_checksum:  # the checksum no longer matches the content
        assert info.value.code == QrErrorCode.CRC_MISMATCH
    else:  # in the "6304" that introduces it
        assert info.value.code == QrErrorCode.CRC_MISSING
