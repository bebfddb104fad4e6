"""Fees: the integer rounding equals Decimal's half-even rounding, and schedules are checked."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rongpay.payments.errors import PaymentError
from rongpay.payments.fees import DEFAULT_SCHEDULE, fee, parse_schedule, round_fee

PERCENTS = st.decimals(min_value=0, max_value=50, places=3, allow_nan=False)


@given(st.integers(min_value=0, max_value=10**12), PERCENTS)
def test_round_fee_is_decimal_half_even(amount: int, percent: Decimal) -> None:
    exact = (Decimal(amount) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    assert round_fee(amount, percent) == int(exact)


@given(st.integers(min_value=1, max_value=99_999_999), st.booleans(), st.booleans())
def test_fee_adds_the_fixed_part_at_home_and_never_exceeds_the_amount(
    amount: int, home: bool, cross_border: bool
) -> None:
    card = DEFAULT_SCHEDULE["card"]
    percent = Decimal(card["percent"]) + (
        Decimal(DEFAULT_SCHEDULE["cross_border_percent"]) if cross_border else 0
    )
    expected = round_fee(amount, percent) + (card["fixed"] if home else 0)
    got = fee(DEFAULT_SCHEDULE, "card", amount, currency="USD",
              default_currency="USD" if home else "EUR", cross_border=cross_border)  # fmt: skip
    assert got == min(expected, amount)


@pytest.mark.parametrize(
    "raw",
    [[], {"card": {"percent": "51"}}, {"card": {"percent": "x"}}, {"card": {"fixed": -1}},
     {"card": {"fixed": True}}, {"iban": {}}, {"card": {"rate": "1"}}],
)  # fmt: skip
def test_bad_schedules_are_refused(raw: object) -> None:
    with pytest.raises(PaymentError):
        parse_schedule(raw)
