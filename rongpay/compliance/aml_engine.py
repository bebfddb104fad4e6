"""Transaction monitoring: run every enabled scenario over events, in batch or one by one.

`Monitor.observe(event)` is the live path (the payment gateway calls it after each posted
payment, with the same object kept for the process); `scan_lines` is the batch path behind
`rongpay aml scan`. Both see the same scenarios with the same state, so they agree.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from rongpay.compliance.aml_graph import Cycle
from rongpay.compliance.aml_params import HOUR_S, AmlParams, RiskRating, Scenario
from rongpay.compliance.aml_scenarios import (
    Alert,
    Context,
    Dormant,
    FanIn,
    FanOut,
    HighRiskGeo,
    LargeValue,
    PassThrough,
    Structuring,
)
from rongpay.compliance.errors import EventFormatError
from rongpay.compliance.events import Event, read_events

SCENARIO_CLASSES: dict[Scenario, Callable[[Context], ScenarioRunner]] = {}


class ScenarioRunner(Protocol):
    def observe(self, e: Event) -> list[Alert]: ...


SCENARIO_CLASSES.update(
    {
        Scenario.STRUCTURING: Structuring,
        Scenario.FAN_IN: FanIn,
        Scenario.FAN_OUT: FanOut,
        Scenario.PASS_THROUGH: PassThrough,
        Scenario.CYCLE: Cycle,
        Scenario.DORMANT_REACTIVATION: Dormant,
        Scenario.HIGH_RISK_GEO: HighRiskGeo,
        Scenario.LARGE_VALUE: LargeValue,
    }
)


@dataclass(slots=True)
class ScanStats:
    events: int = 0
    bad_lines: int = 0
    alerts: int = 0
    follow_ups: int = 0  # alerts continuing an earlier one within the cooldown (`follows`)
    by_scenario: dict[str, int] = field(default_factory=dict)


class Monitor:
    """All enabled scenarios over one stream of events (in time order)."""

    def __init__(
        self, params: AmlParams | None = None, ratings: Mapping[str, RiskRating] | None = None
    ) -> None:
        self.params = params or AmlParams()
        self.ctx = Context(self.params, ratings or {})
        self.runners = [
            make(self.ctx)
            for scenario, make in SCENARIO_CLASSES.items()
            if scenario not in self.params.disabled
        ]
        # (scenario, subject) -> (when, alert_id) of the last alert not held back
        self.last_alert: dict[tuple[str, str], tuple[int, str]] = {}
        # The live path may call observe from several request threads: one at a time.
        self._lock = threading.Lock()

    def observe(self, e: Event) -> list[Alert]:
        """Alerts raised by this event (often none). Thread-safe; events in time order."""
        with self._lock:
            return self._observe(e)

    def _observe(self, e: Event) -> list[Alert]:
        self.ctx.observe(e)
        alerts: list[Alert] = []
        for runner in self.runners:
            found = runner.observe(e)
            if found:
                alerts.extend(self._cooled(a) for a in found)
        return alerts

    def _cooled(self, alert: Alert) -> Alert:
        """ALERT, or a follow-up of the subject's earlier alert for the same scenario.

        Within the cooldown a subject is not alerted again for a scenario, but the new
        transactions are not lost: the alert comes out with `follows` set to the earlier
        alert's id, and case import adds it to the subject's case.
        """
        key = (alert.scenario, alert.accounts[0])
        last = self.last_alert.get(key)
        if last is not None and alert.ts_s - last[0] < self.params.alert_cooldown_h * HOUR_S:
            return dataclasses.replace(alert, follows=last[1])
        self.last_alert[key] = (alert.ts_s, alert.alert_id)
        return alert


def scan_lines(
    lines: Iterable[bytes], monitor: Monitor, stats: ScanStats
) -> Iterator[Alert | EventFormatError]:
    """Alerts for a JSON Lines stream, with an EventFormatError for each bad line."""
    for item in read_events(lines):
        if isinstance(item, EventFormatError):
            stats.bad_lines += 1
            yield item
            continue
        stats.events += 1
        for alert in monitor.observe(item):
            stats.alerts += 1
            stats.follow_ups += alert.follows is not None
            key = str(alert.scenario)
            stats.by_scenario[key] = stats.by_scenario.get(key, 0) + 1
            yield alert
