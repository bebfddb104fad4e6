"""Amounts as EMV QR writes them ("23.72") and as rongpay keeps them (2372 minor units).

Tag 53 carries the ISO 4217 numeric code; its exponent says how many decimals an amount may
have. Conversion is on the digits, never through a float: "23.723" CNY is refused, not
rounded, and "100.00" JPY is refused too (the QR spec writes JPY without decimals).
"""

from __future__ import annotations

import re
from functools import cache

from rongpay.money import Currency, MoneyError, currencies, currency
from rongpay.qr.errors import QrError, QrErrorCode

DECIMAL = re.compile(r"^([0-9]+)(?:\.([0-9]*))?$")  # "10", "10.", "10.5"; at most 13 chars
MAX_AMOUNT_CHARS = 13


@cache
def _by_number() -> dict[str, Currency]:
    return {c.number: c for c in currencies().values()}


def by_number(number: str) -> Currency | None:
    """The currency whose ISO 4217 numeric code is NUMBER ("156" -> CNY), if known.

    Two entries can share a number while one replaces the other (ANG and XCG, 532); the
    later one in the table, the successor, is the answer. Exponents agree in such pairs."""
    return _by_number().get(number)


def lookup(code: str) -> Currency | None:
    """A currency by alphabetic ("CNY") or numeric ("156") code, if known."""
    if code.isascii() and code.isdigit():
        return by_number(code)
    try:
        return currency(code)
    except MoneyError:
        return None


def is_decimal(text: str) -> bool:
    return len(text) <= MAX_AMOUNT_CHARS and DECIMAL.match(text) is not None


def to_minor(text: str, cur: Currency, *, tag: str = "54") -> int:
    """Tag TAG's text in minor units of CUR ("23.72" CNY -> 2372); too many decimals is an
    error, never a rounding."""
    match = DECIMAL.match(text)
    if match is None or len(text) > MAX_AMOUNT_CHARS:
        raise QrError(
            QrErrorCode.INVALID_VALUE,
            f"tag {tag}: {text!r} is not a decimal amount such as 12.34",
            tag=tag,
        )
    whole: str = match.group(1)
    fraction: str = match.group(2) or ""
    if len(fraction) > cur.exponent:
        raise QrError(
            QrErrorCode.INVALID_VALUE,
            f"tag {tag}: {cur.code} has {cur.exponent} decimal place(s); {text} has "
            f"{len(fraction)}",
            tag=tag,
        )
    scale: int = 10**cur.exponent
    return int(whole) * scale + int(fraction.ljust(cur.exponent, "0") or "0")


def from_minor(minor: int, cur: Currency) -> str:
    """2372 in CNY -> "23.72"; 5 -> "0.05"; JPY 1234 -> "1234"."""
    assert minor >= 0
    if cur.exponent == 0:
        return str(minor)
    whole, fraction = divmod(minor, 10**cur.exponent)
    return f"{whole}.{fraction:0{cur.exponent}d}"
