"""Card data checks: the one place a raw card number is parsed, checked and masked.

A card number (PAN) is a secret: `CardDetails` masks it in `repr` and `str`, errors name the
parameter but never echo the value, and logs use `mask()`. The checks are the ones a card form
makes before anything reaches the network (Stripe's `invalid_number`, `invalid_expiry_month`,
`invalid_expiry_year`, `expired_card`, `invalid_cvc`): a bad number never costs a round trip.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

PAN_MIN_DIGITS = 12
PAN_MAX_DIGITS = 19
MAX_YEARS_AHEAD = 50  # an expiry further away than this is a typo, not a card
_SEPARATORS = str.maketrans("", "", " -")


class CardError(ValueError):
    """Card data that cannot be used. `code` is Stripe's, `param` names the field
    (`card[number]`); the message never contains the card data itself."""

    def __init__(self, code: str, param: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.param = param
        self.message = message


@dataclass(frozen=True, slots=True, repr=False)
class CardDetails:
    """A card as entered: digits-only PAN, expiry, and the CVC (None when absent, e.g. a
    card-present read or a card opened from the vault, which never stores it)."""

    pan: str
    exp_month: int
    exp_year: int
    cvc: str | None

    def __repr__(self) -> str:
        return f"Card({mask(self.pan)})"

    __str__ = __repr__


def mask(pan: str) -> str:
    """First six and last four digits, the rest starred: what PCI DSS allows to be shown."""
    if len(pan) < PAN_MIN_DIGITS:
        return "*" * len(pan)
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def last4(pan: str) -> str:
    return pan[-4:]


def fingerprint(pan: str, key: bytes) -> str:
    """A stable identifier for the card number under KEY (HMAC-SHA256, 32 hex digits): equal
    cards give equal fingerprints, and without KEY it reveals nothing of the number."""
    return hmac.new(key, b"card-fingerprint:" + pan.encode(), hashlib.sha256).hexdigest()[:32]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def brand(pan: str) -> str:
    """The card network from the number's prefix (IIN ranges): visa, mastercard, amex,
    unionpay, jcb, discover, or unknown."""
    if not pan.isascii() or not pan.isdigit():
        return "unknown"
    if pan.startswith("4"):
        return "visa"
    if pan.startswith(("34", "37")):
        return "amex"
    two, four = int(pan[:2] or 0), int(pan[:4] or 0)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if pan.startswith(("6011", "65")) or 644 <= int(pan[:3] or 0) <= 649:
        return "discover"
    if pan.startswith(("62", "81")):
        return "unionpay"
    if 3528 <= four <= 3589:
        return "jcb"
    return "unknown"


def parse_card(raw: object, *, now: datetime | None = None) -> CardDetails:
    """Check the JSON card object `{"number", "exp_month", "exp_year", "cvc"}` and return the
    card, or raise CardError with the first problem found (number, then expiry, then CVC)."""
    if not isinstance(raw, Mapping):
        raise CardError(
            "parameter_invalid_type",
            "card",
            "card must be an object with number, exp_month, exp_year and cvc",
        )
    pan = _number(raw.get("number"))
    exp_month = _month(raw.get("exp_month"))
    exp_year = _year(raw.get("exp_year"), now)
    _not_expired(exp_month, exp_year, now)
    cvc = _cvc(raw.get("cvc"), brand(pan))
    return CardDetails(pan=pan, exp_month=exp_month, exp_year=exp_year, cvc=cvc)


def _number(value: object) -> str:
    if value is None:
        raise CardError("parameter_missing", "card[number]", "card[number] is required")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise CardError("invalid_number", "card[number]", "the card number must be a string")
    digits = value.translate(_SEPARATORS)
    if not digits.isascii() or not digits.isdigit():
        raise CardError(
            "invalid_number", "card[number]", "the card number may hold only digits and spaces"
        )
    if not PAN_MIN_DIGITS <= len(digits) <= PAN_MAX_DIGITS:
        raise CardError(
            "invalid_number",
            "card[number]",
            f"a card number has {PAN_MIN_DIGITS} to {PAN_MAX_DIGITS} digits",
        )
    if not luhn_ok(digits):
        raise CardError("invalid_number", "card[number]", "the card number is not a valid number")
    return digits


def _whole(value: object, code: str, param: str) -> int:
    if isinstance(value, bool):
        raise CardError(code, param, f"{param} must be a whole number")
    if isinstance(value, int):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if text.isascii() and text.isdigit() and len(text) <= 4:
        return int(text)
    if value is None:
        raise CardError("parameter_missing", param, f"{param} is required")
    raise CardError(code, param, f"{param} must be a whole number")


def _month(value: object) -> int:
    month = _whole(value, "invalid_expiry_month", "card[exp_month]")
    if not 1 <= month <= 12:
        raise CardError(
            "invalid_expiry_month", "card[exp_month]", "the expiry month must be 1 to 12"
        )
    return month


def _year(value: object, now: datetime | None) -> int:
    param = "card[exp_year]"
    year = _whole(value, "invalid_expiry_year", param)
    text = value.strip() if isinstance(value, str) else str(year)
    if len(text) <= 2:
        year += 2000
    current = (now or datetime.now(UTC)).year
    if not 2000 <= year <= current + MAX_YEARS_AHEAD:
        raise CardError(
            "invalid_expiry_year", param, "the expiry year must be 2 or 4 digits and plausible"
        )
    return year


def _not_expired(month: int, year: int, now: datetime | None) -> None:
    today = now or datetime.now(UTC)
    if (year, month) < (today.year, today.month):
        raise CardError("expired_card", "card[exp_month]", "the card has expired")


def _cvc(value: object, card_brand: str) -> str | None:
    if value is None or value == "":
        return None
    want = 4 if card_brand == "amex" else 3
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise CardError("invalid_cvc", "card[cvc]", f"the CVC must be {want} digits as a string")
    if len(value) != want:
        raise CardError("invalid_cvc", "card[cvc]", f"the CVC must be {want} digits")
    return value
