"""Parameters of the AML scenarios, with their defaults and what each one means.

Amounts are CNY fen (minor units; 5_000_000 = 50,000.00 CNY); other currencies are converted
with the static reference table before comparison. Every parameter can be overridden from the
command line as `--param scenario.name=value` (see docs/reference/compliance.md).

A customer's risk rating tightens thresholds: amounts are multiplied by
`RATING_AMOUNT_FACTOR[rating]` and counterparty counts by `RATING_COUNT_FACTOR[rating]`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rongpay.compliance.errors import InvalidInput

DAY_S = 86_400
HOUR_S = 3_600


class RiskRating(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


RATING_AMOUNT_FACTOR = {RiskRating.LOW: 1.0, RiskRating.MEDIUM: 0.75, RiskRating.HIGH: 0.5}
RATING_COUNT_FACTOR = {RiskRating.LOW: 1.0, RiskRating.MEDIUM: 0.8, RiskRating.HIGH: 0.6}


class Scenario(StrEnum):
    STRUCTURING = "structuring"
    FAN_IN = "fan_in"
    FAN_OUT = "fan_out"
    PASS_THROUGH = "pass_through"
    CYCLE = "cycle"
    DORMANT_REACTIVATION = "dormant_reactivation"
    HIGH_RISK_GEO = "high_risk_geo"
    LARGE_VALUE = "large_value"


@dataclass(frozen=True, slots=True)
class StructuringParams:
    threshold_cny_minor: int = 5_000_000  # the reporting threshold: 50,000 CNY
    band_low_pct: int = 80  # "just under": from 80% of the threshold up to (not incl.) it
    window_h: int = 72  # the split parts fall within this many hours
    min_count: int = 2  # at least this many parts in the band ...
    # ... adding up to at least the threshold (the amount the splitting avoided reporting)


@dataclass(frozen=True, slots=True)
class FanParams:
    window_h: int = 72
    min_counterparties: int = 8  # distinct senders (fan-in) or receivers (fan-out)
    min_total_cny_minor: int = 3_000_000  # 30,000 CNY moved through the fan
    # Payroll and bulk payouts: most transfers of the fan inside this many minutes are a batch
    batch_minutes: int = 30
    batch_share_pct: int = 80
    # Recurring payees (salaries, rent): this share of the fan paid earlier than `recurring_days`
    recurring_days: int = 20
    recurring_share_pct: int = 50


@dataclass(frozen=True, slots=True)
class PassThroughParams:
    min_in_cny_minor: int = 5_000_000  # inflows of at least 50,000 CNY in the window ...
    window_h: int = 48  # ... leave again within this many hours ...
    min_out_pct: int = 80  # ... at least this share of them


@dataclass(frozen=True, slots=True)
class CycleParams:
    min_cny_minor: int = 1_000_000  # each hop at least 10,000 CNY
    max_length: int = 6  # accounts in the cycle (3..max_length; 2 is a loan and its repayment)
    window_h: int = 168  # first to last hop
    # Each hop carries between these shares of the hop before it (fees, skimming):
    hop_min_pct: int = 75
    hop_max_pct: int = 105
    max_in_edges: int = 40  # recent in-edges examined per account (search budget)
    max_steps: int = 400  # search budget per closing transfer


@dataclass(frozen=True, slots=True)
class DormantParams:
    quiet_days: int = 14  # the quiet period before the burst
    quiet_share_pct: int = 10  # quiet-period volume at most this share of the burst volume
    burst_h: int = 48
    burst_min_cny_minor: int = 10_000_000  # the burst moves at least 100,000 CNY


@dataclass(frozen=True, slots=True)
class GeoParams:
    # FATF "call for action" jurisdictions alert on any amount; "increased monitoring" ones when
    # an account's flows with them reach this total within the window.
    monitored_total_cny_minor: int = 5_000_000
    window_h: int = 168


@dataclass(frozen=True, slots=True)
class LargeValueParams:
    # Every transaction at or above the reporting threshold goes into the daily large-value
    # report (reports.py); only much larger ones raise an alert for an analyst.
    report_cny_minor: int = 5_000_000
    alert_cny_minor: int = 100_000_000  # 1,000,000 CNY


@dataclass(frozen=True, slots=True)
class AmlParams:
    structuring: StructuringParams = field(default_factory=StructuringParams)
    fan_in: FanParams = field(default_factory=FanParams)
    fan_out: FanParams = field(default_factory=FanParams)
    pass_through: PassThroughParams = field(default_factory=PassThroughParams)
    cycle: CycleParams = field(default_factory=CycleParams)
    dormant_reactivation: DormantParams = field(default_factory=DormantParams)
    high_risk_geo: GeoParams = field(default_factory=GeoParams)
    large_value: LargeValueParams = field(default_factory=LargeValueParams)
    merchant_min_payments: int = 3  # accounts paid by card/QR/... this often are merchants
    # A subject alerted for a scenario is not alerted again for it within this many hours;
    # alerts after that join the subject's open case (cases.import_alerts).
    alert_cooldown_h: int = 24
    disabled: frozenset[str] = frozenset()

    def with_overrides(self, overrides: list[str]) -> AmlParams:
        """Apply `scenario.name=value` strings (InvalidInput on an unknown name or value)."""
        params = self
        for item in overrides:
            params = params._override(item)
        return params

    def _override(self, item: str) -> AmlParams:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if sep and not dot and section in ("merchant_min_payments", "alert_cooldown_h"):
            top: dict[str, Any] = {section: _whole(item, value)}
            return dataclasses.replace(self, **top)
        if not sep or not dot or section not in Scenario.__members__.values():
            raise InvalidInput(
                f"--param {item!r}: write scenario.name=value, e.g. cycle.max_length=5"
            )
        group = getattr(self, section)
        names = {f.name for f in dataclasses.fields(group)}
        if name == "enabled":
            return self._toggle(section, value)
        if name not in names:
            raise InvalidInput(f"--param {item!r}: {section} has no parameter {name!r}")
        number = _whole(item, value)
        return dataclasses.replace(self, **{section: dataclasses.replace(group, **{name: number})})

    def _toggle(self, section: str, value: str) -> AmlParams:
        if value not in ("true", "false"):
            raise InvalidInput(f"--param {section}.enabled: write true or false")
        disabled = self.disabled - {section} if value == "true" else self.disabled | {section}
        return dataclasses.replace(self, disabled=frozenset(disabled))


def _whole(item: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"--param {item!r}: {value!r} is not a whole number") from None
    if number < 0:
        raise InvalidInput(f"--param {item!r}: must not be negative")
    return number


def scaled(amount: int, rating: RiskRating) -> int:
    """An amount threshold tightened for RATING (integer, rounded down)."""
    return int(amount * RATING_AMOUNT_FACTOR[rating])


def scaled_count(count: int, rating: RiskRating) -> int:
    return max(2, int(count * RATING_COUNT_FACTOR[rating]))
