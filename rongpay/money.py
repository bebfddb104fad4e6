"""Money: an integer count of minor units plus an ISO 4217 currency. No floats, anywhere.

The currency table (code, numeric code, exponent) is the full ISO 4217 list shipped as
`iso4217.csv`. Parsing "12.34 USD" gives 1234 minor units; too many decimals for the
currency is an error, never a silent rounding.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from importlib import resources

MAX_MINOR = 2**63 - 1  # BIGINT: the largest amount any column can hold


class MoneyError(ValueError):
    """Base of money errors; `code` is a stable machine-readable reason."""

    code = "invalid_amount"


class UnknownCurrency(MoneyError):
    code = "unknown_currency"


class TooManyDecimals(MoneyError):
    code = "too_many_decimals"


class AmountOverflow(MoneyError):
    code = "amount_overflow"


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    number: str
    exponent: int
    name: str


@cache
def currencies() -> dict[str, Currency]:
    """Every active ISO 4217 currency by alphabetic code."""
    text = resources.files("rongpay").joinpath("iso4217.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return {
        r["code"]: Currency(r["code"], r["number"], int(r["exponent"]), r["name"]) for r in rows
    }


def currency(code: str) -> Currency:
    """The currency for CODE (case-insensitive), or UnknownCurrency."""
    if not isinstance(code, str):
        raise UnknownCurrency("currency must be a 3-letter ISO 4217 code")
    found = currencies().get(code.strip().upper())
    if found is None:
        raise UnknownCurrency(f"unknown currency {code!r}: use an ISO 4217 code such as USD")
    return found


def exponent(code: str) -> int:
    return currency(code).exponent


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount in minor units of one currency (1234 USD = 12.34 USD)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        assert isinstance(self.minor, int) and not isinstance(self.minor, bool)
        assert self.currency in currencies(), self.currency
        if abs(self.minor) > MAX_MINOR:
            raise AmountOverflow(f"amount {self.minor} exceeds the 64-bit limit")

    @classmethod
    def parse(cls, text: str) -> Money:
        """Parse "12.34 USD" (or "USD 12.34") into minor units, exactly."""
        return parse(text)

    def __add__(self, other: Money) -> Money:
        assert self.currency == other.currency, "currency mismatch"
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        assert self.currency == other.currency, "currency mismatch"
        return Money(self.minor - other.minor, self.currency)

    def __str__(self) -> str:
        return format_money(self.minor, self.currency)


_AMOUNT = re.compile(r"^[+-]?\d+(\.\d+)?$")


def parse(text: str) -> Money:
    """Parse "AMOUNT CODE" or "CODE AMOUNT"; the amount may use '_' or ',' as separators."""
    parts = text.strip().split()
    if len(parts) != 2:
        raise MoneyError(f"cannot read {text!r}: write an amount and a currency, e.g. '12.34 USD'")
    amount, code = parts if not parts[0].isalpha() else (parts[1], parts[0])
    return Money(to_minor(amount.replace("_", "").replace(",", ""), code), currency(code).code)


def to_minor(amount: str | Decimal, code: str) -> int:
    """Exact conversion of a decimal major-unit amount to minor units of CODE."""
    exp = exponent(code)
    if isinstance(amount, str):
        if not _AMOUNT.match(amount.strip()):
            raise MoneyError(f"{amount!r} is not a decimal amount")
        try:
            amount = Decimal(amount.strip())
        except InvalidOperation as exc:  # pragma: no cover - the regex already rules this out
            raise MoneyError(f"{amount!r} is not a decimal amount") from exc
    scaled = amount.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise TooManyDecimals(f"{code.upper()} has {exp} decimal places; {amount} has more")
    minor = int(scaled)
    if abs(minor) > MAX_MINOR:
        raise AmountOverflow(f"amount {amount} {code.upper()} is too large")
    return minor


def format_money(minor: int, code: str) -> str:
    """1234, "USD" -> "12.34 USD"; JPY has no decimals, BHD three."""
    exp = exponent(code)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exp) if exp else (abs(minor), 0)
    body = f"{whole}.{frac:0{exp}d}" if exp else str(whole)
    return f"{sign}{body} {code.upper()}"


def round_minor(value: Decimal) -> int:
    """The one rounding rule for computed amounts (fees, FX): half-even to a whole minor unit."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
