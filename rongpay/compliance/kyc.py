"""Know your customer: verification tiers, their limits, and the customer risk rating.

`check_limit` is the pure function the payment path calls before authorising a payment:
given the customer's tier and risk rating, what they have already spent today and this year,
and the new amount, it answers allowed or the first limit broken (reason codes below, in order
of precedence). Limits are in CNY fen; other currencies are converted with the static
reference table. The defaults follow the shape of PBoC payment-account classes (a small
lifetime-like allowance unverified, 100,000 CNY a year with basic verification); an institution
sets its own with `TierLimits`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from rongpay.compliance.aml_params import RATING_AMOUNT_FACTOR, RiskRating
from rongpay.compliance.errors import InvalidInput
from rongpay.compliance.reference import cny_factors, to_cny_minor
from rongpay.money import currencies


class Tier(StrEnum):
    UNVERIFIED = "unverified"  # phone number only
    BASIC = "basic"  # name + ID number checked against the ID (see documents.py)
    FULL = "full"  # ID document, face match, address: full due diligence


class LimitReason(StrEnum):
    """Why a payment is refused, in order of precedence (the first that applies is returned)."""

    INVALID_AMOUNT = "invalid_amount"
    UNKNOWN_CURRENCY = "unknown_currency"
    EXCEEDS_TRANSACTION_LIMIT = "exceeds_transaction_limit"
    EXCEEDS_DAILY_LIMIT = "exceeds_daily_limit"
    EXCEEDS_YEARLY_LIMIT = "exceeds_yearly_limit"


@dataclass(frozen=True, slots=True)
class TierLimits:
    per_transaction_cny_minor: int
    daily_cny_minor: int
    yearly_cny_minor: int


DEFAULT_LIMITS: Mapping[Tier, TierLimits] = {
    Tier.UNVERIFIED: TierLimits(50_000, 100_000, 100_000),  # 500 / 1,000 / 1,000 CNY
    Tier.BASIC: TierLimits(500_000, 1_000_000, 10_000_000),  # 5,000 / 10,000 / 100,000 CNY
    Tier.FULL: TierLimits(10_000_000, 20_000_000, 200_000_000),  # 100k / 200k / 2M CNY
}


@dataclass(frozen=True, slots=True)
class SpendTotals:
    """What the customer already spent (CNY fen), in the current day and calendar year."""

    day_cny_minor: int = 0
    year_cny_minor: int = 0

    def __post_init__(self) -> None:
        _check_spent(self)


def _check_spent(spent: SpendTotals) -> None:
    """Spent totals are whole fen, never negative (a negative one would raise the limits)."""
    for what, value in (("today", spent.day_cny_minor), ("this year", spent.year_cny_minor)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput(f"spent {what} must be a whole, non-negative amount (got {value!r})")


@dataclass(frozen=True, slots=True)
class LimitDecision:
    allowed: bool
    reason: LimitReason | None
    amount_cny_minor: int
    limit_cny_minor: int | None = None  # the limit that was broken

    def to_json(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "reason": None if self.reason is None else str(self.reason),
            "amount_cny_minor": self.amount_cny_minor,
            "limit_cny_minor": self.limit_cny_minor,
        }


def effective_limits(
    tier: Tier, rating: RiskRating, limits: Mapping[Tier, TierLimits] = DEFAULT_LIMITS
) -> TierLimits:
    """The tier's limits tightened by the risk rating (high risk: half)."""
    base = limits[tier]
    factor = RATING_AMOUNT_FACTOR[rating]
    return TierLimits(
        int(base.per_transaction_cny_minor * factor),
        int(base.daily_cny_minor * factor),
        int(base.yearly_cny_minor * factor),
    )


def check_limit(
    tier: Tier,
    rating: RiskRating,
    spent: SpendTotals,
    amount_minor: int,
    currency: str,
    limits: Mapping[Tier, TierLimits] = DEFAULT_LIMITS,
) -> LimitDecision:
    """Allowed, or the first limit the payment would break (see LimitReason for the order).

    InvalidInput if SPENT is negative or not whole fen (checked again here, not only when the
    SpendTotals was built, because it guards money).
    """
    _check_spent(spent)
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        return LimitDecision(False, LimitReason.INVALID_AMOUNT, 0)
    code = currency.upper() if isinstance(currency, str) else ""
    if code not in currencies() or code not in cny_factors():
        return LimitDecision(False, LimitReason.UNKNOWN_CURRENCY, 0)
    amount = to_cny_minor(amount_minor, code)
    lim = effective_limits(tier, rating, limits)
    checks = (
        (amount, lim.per_transaction_cny_minor, LimitReason.EXCEEDS_TRANSACTION_LIMIT),
        (spent.day_cny_minor + amount, lim.daily_cny_minor, LimitReason.EXCEEDS_DAILY_LIMIT),
        (spent.year_cny_minor + amount, lim.yearly_cny_minor, LimitReason.EXCEEDS_YEARLY_LIMIT),
    )
    for total, limit, reason in checks:
        if total > limit:
            return LimitDecision(False, reason, amount, limit)
    return LimitDecision(True, None, amount)


def parse_rating(text: str) -> RiskRating:
    try:
        return RiskRating(text.strip().lower())
    except ValueError:
        raise InvalidInput(f"risk rating {text!r}: use low, medium or high") from None


def parse_tier(text: str) -> Tier:
    try:
        return Tier(text.strip().lower())
    except ValueError:
        raise InvalidInput(f"tier {text!r}: use unverified, basic or full") from None


# Merchant category codes of cash-intensive or high-risk trades (money services, gambling,
# precious metals and jewels, pawn shops, crypto): their owners rate medium at least.
HIGH_RISK_MCCS = frozenset({"4829", "6051", "6211", "6538", "6540", "7995", "5944", "5933", "5094"})
NEW_CUSTOMER_DAYS = 30


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """What onboarding and monitoring know about a customer, for the risk rating."""

    country: str | None  # residence, ISO 3166 alpha-2
    tier: Tier
    pep: bool = False  # a politically exposed person (screening hit on a PEP list)
    sanctions_near_match: bool = False  # a screening hit cleared by an analyst
    mcc: str | None = None  # for merchants: their category
    account_age_days: int = 0
    open_aml_cases: int = 0
    reported_cases: int = 0  # cases closed as reported (an STR was filed)


def rate_customer(profile: CustomerProfile) -> tuple[RiskRating, list[str]]:
    """The customer risk rating and its reasons: the highest factor wins.

    high: resident of a FATF call-for-action country, a PEP, an STR filed before;
    medium: FATF increased-monitoring country, unverified, a cleared sanctions near-match,
    a cash-intensive trade, a new customer, an open AML case. Otherwise low.
    """
    from rongpay.compliance.reference import fatf_lists

    lists = fatf_lists()
    country = (profile.country or "").upper()
    high = [
        reason
        for reason, applies in (
            (f"resident of {country} (FATF call for action)", country in lists.call_for_action),
            ("politically exposed person", profile.pep),
            (
                f"{profile.reported_cases} suspicious transaction report(s) filed",
                profile.reported_cases > 0,
            ),
        )
        if applies
    ]
    if high:
        return RiskRating.HIGH, high
    medium = [
        reason
        for reason, applies in (
            (
                f"resident of {country} (FATF increased monitoring)",
                country in lists.increased_monitoring,
            ),
            ("identity not verified", profile.tier is Tier.UNVERIFIED),
            ("sanctions near-match cleared by an analyst", profile.sanctions_near_match),
            (f"cash-intensive trade (MCC {profile.mcc})", profile.mcc in HIGH_RISK_MCCS),
            (
                f"customer for {profile.account_age_days} days",
                profile.account_age_days < NEW_CUSTOMER_DAYS,
            ),
            (f"{profile.open_aml_cases} open AML case(s)", profile.open_aml_cases > 0),
        )
        if applies
    ]
    if medium:
        return RiskRating.MEDIUM, medium
    return RiskRating.LOW, []


MAX_RATINGS = 10_000_000


def load_ratings(path: str | Path) -> dict[str, RiskRating]:
    """`account,rating` CSV (header optional) -> ratings; InvalidInput naming a bad line."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read ratings file ({exc})") from exc
    out: dict[str, RiskRating] = {}
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            n = reader.line_num
            _add_rating(out, row, n, path)
    except csv.Error as exc:
        raise InvalidInput(f"{path}: line {reader.line_num}: bad CSV ({exc})") from None
    return out


def _add_rating(out: dict[str, RiskRating], row: list[str], n: int, path: str | Path) -> None:
    if not row or (n == 1 and [c.strip().lower() for c in row] == ["account", "rating"]):
        return
    if len(row) != 2 or not row[0].strip():
        raise InvalidInput(f"{path}: line {n}: expected 'account,rating'")
    try:
        out[row[0].strip()] = parse_rating(row[1])
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: line {n}: {exc.message}") from None
    if len(out) > MAX_RATINGS:
        raise InvalidInput(f"{path}: more than {MAX_RATINGS} ratings")
