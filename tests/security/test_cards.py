"""Card data checks: every Stripe parse code, brands, masking, fingerprints."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rongpay.security.cards import (
    CardDetails,
    CardError,
    brand,
    fingerprint,
    last4,
    luhn_ok,
    mask,
    parse_card,
)

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def card(**over: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "number": "4242424242424242",
        "exp_month": 12,
        "exp_year": 2030,
        "cvc": "123",
    }
    raw.update(over)
    return raw


def test_parses_a_good_card():
    got = parse_card(card(), now=NOW)
    assert got == CardDetails("4242424242424242", 12, 2030, "123")


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"number": "4242 4242 4242 4242"}, "4242424242424242"),
        ({"number": "4242-4242-4242-4242"}, "4242424242424242"),
        ({"number": 4242424242424242}, "4242424242424242"),
    ],
)
def test_number_separators_and_ints(over, expected):
    assert parse_card(card(**over), now=NOW).pan == expected


@pytest.mark.parametrize(
    ("over", "code", "param"),
    [
        ({"number": "4242424242424241"}, "invalid_number", "card[number]"),
        ({"number": "4242"}, "invalid_number", "card[number]"),
        ({"number": "42424242424242424242"}, "invalid_number", "card[number]"),
        ({"number": "4242x42424242424"}, "invalid_number", "card[number]"),
        ({"number": "４２４２４２４２４２４２４２４２"}, "invalid_number", "card[number]"),
        ({"number": ["4242"]}, "invalid_number", "card[number]"),
        ({"number": None}, "parameter_missing", "card[number]"),
        ({"exp_month": 13}, "invalid_expiry_month", "card[exp_month]"),
        ({"exp_month": 0}, "invalid_expiry_month", "card[exp_month]"),
        ({"exp_month": "ab"}, "invalid_expiry_month", "card[exp_month]"),
        ({"exp_month": True}, "invalid_expiry_month", "card[exp_month]"),
        ({"exp_month": 1.5}, "invalid_expiry_month", "card[exp_month]"),
        ({"exp_year": 1999}, "invalid_expiry_year", "card[exp_year]"),
        ({"exp_year": 2099}, "invalid_expiry_year", "card[exp_year]"),
        ({"exp_year": "20x"}, "invalid_expiry_year", "card[exp_year]"),
        ({"exp_year": 2026, "exp_month": 10}, "expired_card", "card[exp_month]"),
        ({"exp_year": 2025}, "expired_card", "card[exp_month]"),
        ({"cvc": "12"}, "invalid_cvc", "card[cvc]"),
        ({"cvc": "1234"}, "invalid_cvc", "card[cvc]"),
        ({"cvc": 123}, "invalid_cvc", "card[cvc]"),
        ({"number": "378282246310005", "cvc": "123"}, "invalid_cvc", "card[cvc]"),
    ],
)
def test_every_error_code(over, code, param):
    with pytest.raises(CardError) as info:
        parse_card(card(**over), now=NOW)
    assert (info.value.code, info.value.param) == (code, param)
    number = str(card(**over)["number"])
    assert number not in str(info.value)


def test_not_an_object():
    with pytest.raises(CardError) as info:
        parse_card("4242424242424242", now=NOW)
    assert info.value.code == "parameter_invalid_type"
    assert "4242424242424242" not in str(info.value)


def test_expiry_forms():
    assert parse_card(card(exp_year=30), now=NOW).exp_year == 2030
    assert parse_card(card(exp_year="30", exp_month="07"), now=NOW).exp_month == 7
    assert parse_card(card(exp_year=2026, exp_month=11), now=NOW).exp_year == 2026  # this month
    assert parse_card(card(cvc=None), now=NOW).cvc is None
    assert parse_card(card(number="378282246310005", cvc="1234"), now=NOW).cvc == "1234"


@pytest.mark.parametrize(
    ("pan", "expected"),
    [
        ("4242424242424242", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("6200000000000005", "unionpay"),
        ("3566002020360505", "jcb"),
        ("6011111111111117", "discover"),
        ("9999999999999995", "unknown"),
        ("42x", "unknown"),
    ],
)
def test_brands(pan, expected):
    assert brand(pan) == expected


def test_masking_and_repr():
    details = CardDetails("4242424242424242", 12, 2030, "123")
    assert repr(details) == "Card(424242******4242)"
    assert str(details) == "Card(424242******4242)"
    assert f"{details}" == "Card(424242******4242)"
    assert "123" not in repr(details)
    assert mask("378282246310005") == "378282*****0005"
    assert last4("4242424242424242") == "4242"


def test_fingerprint_is_stable_keyed_and_opaque():
    a = fingerprint("4242424242424242", b"k1")
    assert a == fingerprint("4242424242424242", b"k1")
    assert a != fingerprint("4242424242424242", b"k2")
    assert a != fingerprint("5555555555554444", b"k1")
    assert "4242" not in a


def test_luhn():
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["number", "exp_month", "exp_year", "cvc", "other"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=25), st.floats()),
    )
)
def test_any_input_parses_or_raises_card_error(raw):
    try:
        got = parse_card(raw, now=NOW)
    except CardError as exc:
        assert exc.code and exc.param.startswith("card")
        assert exc.message == str(exc)
    else:
        assert luhn_ok(got.pan) and 1 <= got.exp_month <= 12
