"""Parameters of the AML scenarios, with their defaults and what each one means.

Amounts are CNY fen (minor units; 5_000_000 = 50,000.00 CNY); other currencies are converted
with the static reference table before comparison. Every parameter can be overridden from the
command line as `--param scenario.name=value` (see docs/reference/compliance.md).

Every parameter has a range (`_range`): an override outside it is refused with a message
naming the range (InvalidInput; the CLI exits 2), so no setting can divide by zero, recurse
without bound or silently switch a scenario off (`--param X.enabled=false` does that, openly).

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
MAX_MINOR = 2**63 - 1
MAX_WINDOW_H = 24 * 366


def _range(default: int, low: int, high: int) -> Any:
    """A parameter with its default and its allowed range (inclusive)."""
    return field(default=default, metadata={"range": (low, high)})


def _amount(default: int, low: int = 1) -> Any:
    return _range(default, low, MAX_MINOR)


def _pct(default: int, low: int = 1, high: int = 100) -> Any:
    return _range(default, low, high)


def _window_h(default: int) -> Any:
    return _range(default, 1, MAX_WINDOW_H)


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
    threshold_cny_minor: int = _amount(5_000_000)  # the reporting threshold: 50,000 CNY
    band_low_pct: int = _pct(80, 1, 99)  # "just under": from 80% of the threshold up to it
    window_h: int = _window_h(72)  # the split parts fall within this many hours
    min_count: int = _range(2, 2, 10_000)  # at least this many parts in the band ...
    # ... adding up to at least the threshold (the amount the splitting avoided reporting)


@dataclass(frozen=True, slots=True)
class FanParams:
    window_h: int = _window_h(72)
    min_counterparties: int = _range(8, 2, 100_000)  # distinct senders / receivers
    min_total_cny_minor: int = _amount(3_000_000, 0)  # 30,000 CNY moved through the fan
    # Payroll files and bulk payouts: a transfer at most `batch_gap_s` after the payer's
    # previous one is part of a batch (a machine, not a person typing); a fan whose transfers
    # are at least `batch_share_pct` batched is a payout run. 0 turns batch detection off.
    batch_gap_s: int = _range(60, 0, 3_600)
    batch_share_pct: int = _pct(80)
    # Recurring payees (salaries, rent): this share of the fan paid earlier than `recurring_days`
    recurring_days: int = _range(20, 1, 366)
    recurring_share_pct: int = _pct(50)


@dataclass(frozen=True, slots=True)
class PassThroughParams:
    min_in_cny_minor: int = _amount(5_000_000)  # inflows of at least 50,000 CNY in the window
    window_h: int = _window_h(48)  # ... leave again within this many hours ...
    min_out_pct: int = _pct(80)  # ... at least this share of them


@dataclass(frozen=True, slots=True)
class CycleParams:
    min_cny_minor: int = _amount(1_000_000, 0)  # each hop at least 10,000 CNY
    # accounts in the cycle (3..max_length; 2 is a loan and its repayment)
    max_length: int = _range(6, 3, 10_000)
    window_h: int = _window_h(168)  # first to last hop
    # Each hop carries between these shares of the hop before it (fees, skimming):
    hop_min_pct: int = _pct(75, 1, 100)
    hop_max_pct: int = _pct(105, 100, 1_000)
    max_in_edges: int = _range(40, 1, 100_000)  # recent in-edges examined per account
    max_steps: int = _range(400, 1, 10_000_000)  # search budget per closing transfer


@dataclass(frozen=True, slots=True)
class DormantParams:
    quiet_days: int = _range(14, 1, 366)  # the quiet period before the burst
    quiet_share_pct: int = _pct(10, 0)  # quiet volume at most this share of the burst volume
    burst_h: int = _window_h(48)
    burst_min_cny_minor: int = _amount(10_000_000)  # the burst moves at least 100,000 CNY


@dataclass(frozen=True, slots=True)
class GeoParams:
    # FATF "call for action" jurisdictions alert on any amount; "increased monitoring" ones when
    # an account's flows with them reach this total within the window.
    monitored_total_cny_minor: int = _amount(5_000_000, 0)
    window_h: int = _window_h(168)


@dataclass(frozen=True, slots=True)
class LargeValueParams:
    # Every transaction at or above the reporting threshold goes into the daily large-value
    # report (reports.py, a regulatory duty regardless of suspicion); only much larger ones
    # raise an alert for an analyst, and not a recognised payroll payer's funding or salaries.
    report_cny_minor: int = _amount(5_000_000)
    alert_cny_minor: int = _amount(100_000_000)  # 1,000,000 CNY


@dataclass(frozen=True, slots=True)
class PayrollParams:
    """Recognising salary payers by behaviour (aml_scenarios.Payroll); not a scenario."""

    # A payee paid again this many days after the last time, with an amount within
    # `amount_tolerance_pct` of the last one, is a recurring payee (weekly to monthly pay).
    cycle_min_days: int = _range(6, 1, 366)
    cycle_max_days: int = _range(40, 1, 366)
    amount_tolerance_pct: int = _pct(25, 0)
    min_recurring_payees: int = _range(5, 2, 100_000)  # then the payer is a payroll payer
    # A payroll payer's top-up of up to this share of its largest pay run funds the payroll
    funding_pct: int = _pct(150, 100, 1_000)
    run_gap_h: int = _window_h(12)  # transfers of one pay run are at most this far apart


TOP_LEVEL = ("merchant_min_payments", "alert_cooldown_h")
TOP_RANGES = {"merchant_min_payments": (1, 1_000_000), "alert_cooldown_h": (0, MAX_WINDOW_H)}
SECTIONS = (*Scenario, "payroll")


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
    payroll: PayrollParams = field(default_factory=PayrollParams)
    merchant_min_payments: int = 3  # accounts paid by card/QR/... this often are merchants
    # A subject alerted for a scenario is not alerted again for it within this many hours;
    # the transactions of an alert held back are emitted as a follow-up of the first
    # (`Alert.follows`), and cases.import_alerts puts them in the subject's open case.
    alert_cooldown_h: int = 24
    disabled: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        check_params(self)

    def with_overrides(self, overrides: list[str]) -> AmlParams:
        """Apply `scenario.name=value` strings (InvalidInput on an unknown name or value)."""
        params = self
        for item in overrides:
            params = params._override(item)
        return params

    def _override(self, item: str) -> AmlParams:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if sep and not dot and section in TOP_LEVEL:
            top: dict[str, Any] = {section: _whole(item, value)}
            return _replace(self, item, top)
        if not sep or not dot or section not in SECTIONS:
            raise InvalidInput(
                f"--param {item!r}: write scenario.name=value, e.g. cycle.max_length=5"
            )
        group = getattr(self, section)
        names = {f.name for f in dataclasses.fields(group)}
        if name == "enabled" and section != "payroll":
            return self._toggle(section, value)
        if name not in names:
            raise InvalidInput(f"--param {item!r}: {section} has no parameter {name!r}")
        changed = dataclasses.replace(group, **{name: _whole(item, value)})
        return _replace(self, item, {section: changed})

    def _toggle(self, section: str, value: str) -> AmlParams:
        if value not in ("true", "false"):
            raise InvalidInput(f"--param {section}.enabled: write true or false")
        disabled = self.disabled - {section} if value == "true" else self.disabled | {section}
        return dataclasses.replace(self, disabled=frozenset(disabled))


def _replace(params: AmlParams, item: str, changes: dict[str, Any]) -> AmlParams:
    try:
        return dataclasses.replace(params, **changes)
    except InvalidInput as exc:
        raise InvalidInput(f"--param {item!r}: {exc.message}") from None


def check_params(params: AmlParams) -> None:
    """InvalidInput naming the first parameter outside its range (or an inconsistent pair).

    (cycle.hop_min_pct <= 100 <= cycle.hop_max_pct by their ranges.)
    """
    for name, (low, high) in TOP_RANGES.items():
        _in_range(name, getattr(params, name), low, high)
    for section in SECTIONS:
        group = getattr(params, section)
        for f in dataclasses.fields(group):
            low, high = f.metadata["range"]
            _in_range(f"{section}.{f.name}", getattr(group, f.name), low, high)
    if params.payroll.cycle_min_days > params.payroll.cycle_max_days:
        raise InvalidInput("payroll.cycle_min_days must not exceed payroll.cycle_max_days")


def _in_range(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInput(f"{name} must be a whole number from {low:,} to {high:,}, not {value!r}")


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
