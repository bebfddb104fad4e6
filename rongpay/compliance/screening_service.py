"""Screening use cases: load a list once, screen names at onboarding and on cross-border payments.

The payment gateway holds one `Screener` per process (`load_screener` at start-up or on list
refresh) and calls `screen_party` for the customer at onboarding and for the counterparty of
every cross-border payment: a `hold` decision means the payment waits for an analyst.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rongpay.compliance.errors import InvalidInput
from rongpay.compliance.reference import countries
from rongpay.compliance.sanctions import is_partial_date, load_list
from rongpay.compliance.screening import (
    DEFAULT_FLOOR,
    DEFAULT_LIMIT,
    DEFAULT_THRESHOLD,
    Match,
    Query,
    Screener,
)

SAMPLE_LIST = Path(__file__).parent / "data" / "sample_sanctions.csv"
MAX_LIMIT = 100
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


class ScreeningDecision(StrEnum):
    CLEAR = "clear"
    HOLD = "hold"  # at least one match at or above the threshold: an analyst decides


@dataclass(frozen=True, slots=True)
class ScreenOptions:
    threshold: float = DEFAULT_THRESHOLD
    floor: float = DEFAULT_FLOOR
    limit: int = DEFAULT_LIMIT
    birth_date: str | None = None
    country: str | None = None

    @classmethod
    def build(
        cls,
        *,
        threshold: float | None = None,
        floor: float | None = None,
        limit: int = DEFAULT_LIMIT,
        birth_date: str | None = None,
        country: str | None = None,
    ) -> ScreenOptions:
        """Checked options (InvalidInput on a bad date, country or range)."""
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        floor = min(DEFAULT_FLOOR, threshold) if floor is None else floor
        if not 0.0 <= floor <= threshold <= 1.0:
            raise InvalidInput("need 0 <= floor <= threshold <= 1")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        if birth_date is not None and not is_partial_date(birth_date):
            raise InvalidInput(
                f"birth date {birth_date!r} is not a real date as YYYY, YYYY-MM or YYYY-MM-DD"
            )
        if country is not None and (
            not _COUNTRY.match(country) or country.upper() not in countries()
        ):
            raise InvalidInput(f"country {country!r} is not an ISO 3166 alpha-2 code")
        return cls(threshold, floor, limit, birth_date, country.lower() if country else None)


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    name: str
    decision: ScreeningDecision
    matches: tuple[Match, ...]


def load_screener(path: str | Path = SAMPLE_LIST) -> Screener:
    """Load a whole list and index it (ListFormatError if malformed; nothing half-loaded)."""
    return Screener(load_list(path))


def screen_name(screener: Screener, name: str, options: ScreenOptions) -> list[Match]:
    query = Query(name, options.birth_date, options.country)
    return screener.screen(
        query, threshold=options.threshold, floor=options.floor, limit=options.limit
    )


def screen_party(
    screener: Screener,
    name: str,
    *,
    birth_date: str | None = None,
    country: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> ScreeningResult:
    """Onboarding / cross-border check of one party: `hold` when any match reaches THRESHOLD."""
    options = ScreenOptions.build(threshold=threshold, birth_date=birth_date, country=country)
    matches = tuple(screen_name(screener, name, options))
    hit = any(m.is_match for m in matches)
    return ScreeningResult(
        name, ScreeningDecision.HOLD if hit else ScreeningDecision.CLEAR, matches
    )


def screen_cross_border(
    screener: Screener,
    *,
    payer_country: str | None,
    payee_country: str | None,
    counterparty_name: str,
    counterparty_country: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> ScreeningResult:
    """Payment-time check: a cross-border payment screens its counterparty; domestic clears.

    A payment whose countries are unknown counts as cross-border (screened): unknown is not safe.
    """
    domestic = payer_country is not None and payer_country == payee_country
    if domestic:
        return ScreeningResult(counterparty_name, ScreeningDecision.CLEAR, ())
    return screen_party(
        screener, counterparty_name, country=counterparty_country, threshold=threshold
    )


def render_text(name: str, matches: list[Match], threshold: float) -> str:
    """Readable lines for one screened name."""
    lines = [name]
    if not matches:
        lines.append("  no match")
    for m in matches:
        flag = "MATCH" if m.is_match else "near "
        lines.append(f"  {flag} {m.score:.3f}  {m.entry.id}  {m.entry.caption}  [{m.entry.schema}]")
        lines.append(f"        {m.explanation}")
    if matches and not any(m.is_match for m in matches):
        lines.append(f"  (nothing at or above the threshold {threshold:.2f})")
    return "\n".join(lines) + "\n"
