"""Shape checks shared by every payment request: amounts, currencies, countries, text,
metadata. Each failure is a PaymentError naming the parameter at fault."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from rongpay.compliance.reference import countries
from rongpay.money import currencies
from rongpay.payments.errors import invalid

MAX_AMOUNT = 99_999_999  # minor units, as Stripe's 8-digit limit
MAX_METADATA_KEYS = 50
MAX_TEXT = 1000


def minimum_amount(currency: str) -> int:
    """Half a major unit (USD 0.50, JPY 50, BHD 0.500): below it fees eat the payment."""
    return (
        max(1, 10 ** currencies()[currency].exponent // 2)
        if currencies()[currency].exponent
        else 50
    )


def storable(text: str) -> bool:
    """Text every engine can store: no NUL (PostgreSQL refuses it) and valid UTF-8 (no lone
    UTF-16 surrogates, which a JSON body may carry as escapes)."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def line(value: object, param: str, *, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    """`text` on one line: no control characters (names, cities: they go into QR codes,
    statements and bank files)."""
    found = text(value, param, required=required, limit=limit)
    if found is not None and any(unicodedata.category(ch) == "Cc" for ch in found):
        raise invalid("parameter_invalid", f"`{param}` must not contain control characters.", param)
    return found


def url(value: object, param: str) -> str | None:
    """An http(s) URL a customer may be sent to, or None."""
    found = line(value, param, limit=2048)
    if found is not None and not found.lower().startswith(("https://", "http://")):
        raise invalid("parameter_invalid", f"`{param}` must be an http(s) URL.", param)
    return found


def currency(value: object, param: str = "currency") -> str:
    if not isinstance(value, str) or value.strip().upper() not in currencies():
        raise invalid(
            "currency_invalid", f"`{param}` must be a 3-letter ISO 4217 code, like usd.", param
        )
    return value.strip().upper()


def amount(value: object, cur: str, param: str = "amount") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        message = f"`{param}` must be an integer count of minor units (1099 = 10.99)."
        raise invalid("parameter_invalid", message, param)
    low = minimum_amount(cur)
    if value < low:
        raise invalid(
            "amount_too_small", f"`{param}` must be at least {low} ({cur} minor units).", param
        )
    if value > MAX_AMOUNT:
        raise invalid("amount_too_large", f"`{param}` must be at most {MAX_AMOUNT}.", param)
    return value


def positive_amount(value: object, param: str = "amount") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
        raise invalid(
            "parameter_invalid", f"`{param}` must be an integer from 1 to {MAX_AMOUNT}.", param
        )
    return value


def country(value: object, param: str = "country") -> str:
    if not isinstance(value, str) or value.strip().upper() not in countries():
        raise invalid(
            "country_invalid", f"`{param}` must be an ISO 3166 alpha-2 code, like US.", param
        )
    return value.strip().upper()


def text(value: object, param: str, *, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    if value is None and not required:
        return None
    if value is None:
        raise invalid("parameter_missing", f"`{param}` is required.", param)
    if not isinstance(value, str) or not value.strip() or len(value) > limit or not storable(value):
        raise invalid(
            "parameter_invalid", f"`{param}` must be text of 1 to {limit} characters.", param
        )
    return value.strip()


def boolean(value: object, param: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid("parameter_invalid", f"`{param}` must be true or false.", param)
    return value


def choice(value: object, param: str, options: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if value not in options:
        raise invalid("parameter_invalid", f"`{param}` must be one of {', '.join(options)}.", param)
    assert isinstance(value, str)
    return value


def metadata(value: object, param: str = "metadata") -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > MAX_METADATA_KEYS:
        raise invalid(
            "parameter_invalid",
            f"`{param}` must be an object of at most {MAX_METADATA_KEYS} keys.",
            param,
        )
    out: dict[str, str] = {}
    for k, v in value.items():
        if (
            not isinstance(k, str)
            or not 0 < len(k) <= 40
            or not isinstance(v, str)
            or len(v) > 500
            or not storable(k + v)
        ):
            message = f"`{param}` keys are text up to 40 characters, values up to 500."
            raise invalid(
                "parameter_invalid", message, f"{param}[{k}]" if isinstance(k, str) else param
            )
        out[k] = v
    return out


def body(raw: object, allowed: frozenset[str]) -> Mapping[str, Any]:
    """The request object, refusing unknown parameters (a typo should not pass silently)."""
    if not isinstance(raw, Mapping):
        raise invalid("parameter_invalid", "The body must be a JSON object.")
    for key in raw:
        if key not in allowed:
            raise invalid("parameter_unknown", f"Received unknown parameter: {key}", str(key))
    return raw
