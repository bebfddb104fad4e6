"""Scoring the AML scenarios on labelled traffic (e.g. `rongpay simulate` output).

Labels ride on the events: `label_aml` (the typology, or null) and `label_aml_case` (one id for
all transactions of one laundering case). A case counts as detected when at least one alert
lists one of its transactions; recall is per typology, over cases. An alert is a true positive
when it lists at least one laundering transaction; precision is over all alerts. A follow-up
(an alert raised within the cooldown, `follows` set) is no new alert for an analyst: its
transactions count for the alert it follows (which becomes a true positive if they are
laundering) and for recall.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rongpay.compliance.aml_engine import Monitor
from rongpay.compliance.aml_scenarios import Alert
from rongpay.compliance.errors import EventFormatError
from rongpay.compliance.events import decode_lines, parse_event

TYPOLOGIES = (
    "structuring",
    "fan_in",
    "fan_out",
    "cycle",
    "pass_through",
    "dormant_reactivation",
    "high_risk_geo",
)
RECALL_TARGET = 0.9
PRECISION_TARGET = 0.5


@dataclass(slots=True)
class EvalResult:
    events: int = 0
    bad_lines: list[str] = field(default_factory=list)
    alerts: int = 0
    true_alerts: int = 0
    cases: dict[str, str] = field(default_factory=dict)  # case id -> typology
    detected: set[str] = field(default_factory=set)
    alerts_by_scenario: dict[str, list[int]] = field(default_factory=dict)  # [alerts, true]
    follow_ups: int = 0
    truth: dict[str, bool] = field(default_factory=dict)  # alert id -> true positive

    def recall(self) -> dict[str, dict[str, float | int]]:
        out: dict[str, dict[str, float | int]] = {}
        for typology in sorted(set(self.cases.values()) | set(TYPOLOGIES)):
            cases = [c for c, t in self.cases.items() if t == typology]
            hit = sum(1 for c in cases if c in self.detected)
            out[typology] = {
                "cases": len(cases),
                "detected": hit,
                "recall": round(hit / len(cases), 4) if cases else 0.0,
            }
        return out

    def precision(self) -> float:
        return round(self.true_alerts / self.alerts, 4) if self.alerts else 0.0

    def meets_targets(self) -> bool:
        recalls = [r for r in self.recall().values() if r["cases"]]
        return (
            bool(recalls)
            and all(float(r["recall"]) >= RECALL_TARGET for r in recalls)
            and self.precision() >= PRECISION_TARGET
        )

    def to_json(self) -> dict[str, object]:
        return {
            "events": self.events,
            "bad_lines": len(self.bad_lines),
            "alerts": self.alerts,
            "follow_ups": self.follow_ups,
            "true_alerts": self.true_alerts,
            "precision": self.precision(),
            "recall": self.recall(),
            "alerts_by_scenario": {
                s: {"alerts": n, "true": t, "precision": round(t / n, 4) if n else 0.0}
                for s, (n, t) in sorted(self.alerts_by_scenario.items())
            },
            "targets": {"recall": RECALL_TARGET, "precision": PRECISION_TARGET},
            "meets_targets": self.meets_targets(),
        }


def evaluate(lines: Iterable[bytes], monitor: Monitor) -> EvalResult:
    result = EvalResult()
    laundering: set[str] = set()
    case_of: dict[str, str] = {}
    for n, raw in decode_lines(lines):
        try:
            if isinstance(raw, EventFormatError):
                raise raw
            event = parse_event(raw, n)
        except EventFormatError as exc:
            result.bad_lines.append(exc.message)
            continue
        result.events += 1
        typology, case = raw.get("label_aml"), raw.get("label_aml_case")
        if typology:
            laundering.add(event.id)
            case_id = str(case) if case is not None else f"event:{event.id}"
            case_of[event.id] = case_id
            result.cases.setdefault(case_id, str(typology))
        for alert in monitor.observe(event):
            _score_alert(result, alert, laundering, case_of)
    return result


def _score_alert(
    result: EvalResult, alert: Alert, laundering: set[str], case_of: dict[str, str]
) -> None:
    hits = [t for t in alert.transactions if t in laundering]
    result.detected.update(case_of[t] for t in hits)
    counts = result.alerts_by_scenario.setdefault(str(alert.scenario), [0, 0])
    if alert.follows is not None and alert.follows in result.truth:
        result.follow_ups += 1
        if hits and not result.truth[alert.follows]:
            result.truth[alert.follows] = True
            result.true_alerts += 1
            counts[1] += 1
        return
    result.alerts += 1
    counts[0] += 1
    result.truth[alert.alert_id] = bool(hits)
    if hits:
        result.true_alerts += 1
        counts[1] += 1
