from decimal import Decimal

import pytest

from rongpay import money


@pytest.mark.parametrize(
    ("text", "minor", "code"),
    [
        ("12.34 USD", 1234, "USD"),
        ("USD 12.34", 1234, "USD"),
        ("500 JPY", 500, "JPY"),
        ("1.234 BHD", 1234, "BHD"),
        ("-0.01 EUR", -1, "EUR"),
        ("1,000.5 CNY", 100050, "CNY"),
        ("0 usd", 0, "USD"),
    ],
)
def test_parse(text, minor, code):
    m = money.parse(text)
    assert (m.minor, m.currency) == (minor, code)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1.234 USD", "too_many_decimals"),
        ("1.5 JPY", "too_many_decimals"),
        ("1 XXX", "unknown_currency"),
        ("abc USD", "unknown_currency"),
        ("12..3 USD", "invalid_amount"),
        ("12", "invalid_amount"),
        ("99999999999999999999 USD", "amount_overflow"),
    ],
)
def test_parse_errors(text, code):
    with pytest.raises(money.MoneyError) as info:
        money.parse(text)
    assert info.value.code == code


def test_format_round_trips_every_currency():
    for code, cur in money.currencies().items():
        minor = 123456789
        assert money.parse(money.format_money(minor, code)).minor == minor
        assert money.exponent(code) == cur.exponent


def test_table_has_the_usual_exponents():
    assert {c: money.exponent(c) for c in ("USD", "JPY", "BHD", "CNY", "KWD", "CLF")} == {
        "USD": 2,
        "JPY": 0,
        "BHD": 3,
        "CNY": 2,
        "KWD": 3,
        "CLF": 4,
    }
    assert len(money.currencies()) > 150


def test_format_negative_and_zero_exponent():
    assert money.format_money(-5, "USD") == "-0.05 USD"
    assert money.format_money(1500, "JPY") == "1500 JPY"


def test_round_minor_is_half_even():
    assert [money.round_minor(Decimal(x)) for x in ("0.5", "1.5", "2.5", "-0.5")] == [0, 2, 2, 0]


def test_money_arithmetic_keeps_currency():
    assert money.parse("1.00 USD") + money.parse("0.50 USD") == money.Money(150, "USD")
    with pytest.raises(AssertionError):
        money.parse("1.00 USD") + money.parse("1.00 EUR")
