"""Fee schedules: a percentage plus a fixed amount per payment method, a cross-border
surcharge, and a dispute fee. Shown on every intent before confirmation; booked on capture.

A schedule is JSON, per merchant:
`{"card": {"percent": "2.9", "fixed": 30}, ..., "cross_border_percent": "1.5",
"dispute_fee": 1500}`. `fixed` and `dispute_fee` are minor units of the merchant's default
currency; payments in another currency pay the percentages only. Percentages are decimal
strings, rounded once, half-even, in `round_fee`.
"""

from __future__ import annotations

import functools
from decimal import Decimal, InvalidOperation
from typing import Any

from rongpay.payments.errors import invalid

METHODS = ("card", "card_present", "wallet", "bank_transfer", "qr")
MAX_PERCENT = Decimal(50)
MAX_FIXED = 10**9

DEFAULT_SCHEDULE: dict[str, Any] = {
    "card": {"percent": "2.9", "fixed": 30},
    "card_present": {"percent": "2.7", "fixed": 5},
    "wallet": {"percent": "1.0", "fixed": 0},
    "bank_transfer": {"percent": "0.8", "fixed": 0},
    "qr": {"percent": "0.6", "fixed": 0},
    "cross_border_percent": "1.5",
    "dispute_fee": 1500,
}


def round_fee(amount_minor: int, percent: Decimal) -> int:
    """The one rounding of a percentage of money: half-even to a whole minor unit."""
    num, den = percent.as_integer_ratio()
    return _half_even(amount_minor * num, den * 100)


def _half_even(numerator: int, denominator: int) -> int:
    """NUMERATOR / DENOMINATOR rounded half-even, in integers (exact, and fast)."""
    q, r = divmod(numerator, denominator)
    if 2 * r > denominator or (2 * r == denominator and q % 2):
        q += 1
    return q


@functools.lru_cache(maxsize=1024)
def _ratio(percent: str, surcharge: str | None) -> tuple[int, int]:
    """PERCENT (+ SURCHARGE) as an integer fraction of one: parsed once per schedule entry."""
    total = Decimal(percent) + (Decimal(surcharge) if surcharge is not None else 0)
    num, den = total.as_integer_ratio()
    return num, den * 100


def fee(
    schedule: dict[str, Any],
    method: str,
    amount_minor: int,
    *,
    currency: str,
    default_currency: str,
    cross_border: bool,
) -> int:
    entry = schedule[method]
    num, den = _ratio(entry["percent"], schedule["cross_border_percent"] if cross_border else None)
    total = _half_even(amount_minor * num, den)
    if currency == default_currency:
        total += int(entry["fixed"])
    return min(total, amount_minor)


def _percent(value: object, param: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise invalid("parameter_invalid", f'`{param}` must be a decimal string like "2.9".', param)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise invalid("parameter_invalid", f"`{param}` is not a number.", param) from None
    if not number.is_finite() or not 0 <= number <= MAX_PERCENT:
        raise invalid("parameter_invalid", f"`{param}` must be between 0 and {MAX_PERCENT}.", param)
    return str(number)


def _fixed(value: object, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FIXED:
        raise invalid(
            "parameter_invalid", f"`{param}` must be an integer of minor units, 0 to {MAX_FIXED}.",
            param,
        )  # fmt: skip
    return value


def parse_schedule(raw: object, param: str = "fee_schedule") -> dict[str, Any]:
    """A complete schedule: RAW's entries over the defaults, each checked."""
    if raw is None:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULT_SCHEDULE.items()}
    if not isinstance(raw, dict):
        raise invalid("parameter_invalid", f"`{param}` must be an object.", param)
    unknown = set(raw) - set(DEFAULT_SCHEDULE)
    if unknown:
        name = sorted(unknown)[0]
        raise invalid(
            "parameter_unknown", f"Unknown fee schedule entry `{name}`.", f"{param}.{name}"
        )
    schedule = parse_schedule(None)
    for method in METHODS:
        entry = raw.get(method)
        if entry is None:
            continue
        if not isinstance(entry, dict) or set(entry) - {"percent", "fixed"}:
            raise invalid(
                "parameter_invalid", f"`{param}.{method}` takes `percent` and `fixed`.",
                f"{param}.{method}",
            )  # fmt: skip
        if "percent" in entry:
            schedule[method]["percent"] = _percent(entry["percent"], f"{param}.{method}.percent")
        if "fixed" in entry:
            schedule[method]["fixed"] = _fixed(entry["fixed"], f"{param}.{method}.fixed")
    if "cross_border_percent" in raw:
        schedule["cross_border_percent"] = _percent(
            raw["cross_border_percent"], f"{param}.cross_border_percent"
        )
    if "dispute_fee" in raw:
        schedule["dispute_fee"] = _fixed(raw["dispute_fee"], f"{param}.dispute_fee")
    return schedule
