"""Reference data shipped with compliance: countries, FATF lists, static CNY rates.

Thresholds in AML scenarios are written in CNY (the reporting currency of a Chinese payment
institution); amounts in other currencies are converted with a small static table
(`data/fx_rates_cny.json`), in integers, by `to_cny_minor`, the one rounding rule here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from rongpay.money import currencies

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True, slots=True)
class FatfLists:
    as_of: str
    call_for_action: frozenset[str]
    increased_monitoring: frozenset[str]  # with the institution's own other high-risk list


@cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (upper case)."""
    lines = (DATA / "countries.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip() for x in lines if x.strip() and not x.startswith("#"))


@cache
def fatf_lists() -> FatfLists:
    raw = json.loads((DATA / "fatf.json").read_text(encoding="utf-8"))
    monitored = frozenset(raw["increased_monitoring"]) | frozenset(raw.get("other_high_risk", {}))
    return FatfLists(raw["as_of"], frozenset(raw["call_for_action"]), monitored)


@cache
def cny_factors() -> dict[str, tuple[int, int]]:
    """Per currency, (numerator, denominator) turning its minor units into CNY fen."""
    raw = json.loads((DATA / "fx_rates_cny.json").read_text(encoding="utf-8"))
    table = currencies()
    out: dict[str, tuple[int, int]] = {}
    for code, rate_text in raw["rates"].items():
        exp = table[code].exponent
        factor = Decimal(rate_text).scaleb(2 - exp)  # CNY has two decimals
        num, den = factor.as_integer_ratio()
        out[code] = (num, den)
    return out


def to_cny_minor(amount_minor: int, currency: str) -> int:
    """AMOUNT_MINOR of CURRENCY in CNY fen, rounded half up (KeyError if no rate)."""
    num, den = cny_factors()[currency]
    return (2 * amount_minor * num + den) // (2 * den)
