"""`rongpay risk backtest RULES EVENTS`: what a rule set would have done on past traffic.

Every rule, live or shadow, is counted on each event (hits, and hits on labelled fraud by
type); the decisions with the rule set are set beside the decisions without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rongpay.risk.decision import Action
from rongpay.risk.engine import RiskEngine
from rongpay.risk.event import Rejected
from rongpay.risk.features import FeatureState
from rongpay.risk.lists import Lists
from rongpay.risk.model import Model
from rongpay.risk.rules import RuleSet
from rongpay.risk.service import decide_labelled, read_labelled


def _decision_stats(flags: list[tuple[bool, bool]]) -> dict[str, Any]:
    tp = sum(1 for flagged, fraud in flags if flagged and fraud)
    flagged = sum(1 for f, _ in flags if f)
    fraud = sum(1 for _, y in flags if y)
    return {
        "flagged": flagged,
        "fraud_flagged": tp,
        "precision": round(tp / flagged, 4) if flagged else None,
        "recall": round(tp / fraud, 4) if fraud else None,
    }


def backtest(rules: RuleSet, model: Model | None, lists: Lists, path: Path,
             on_reject: Callable[[Rejected], None]) -> dict[str, Any]:  # fmt: skip
    stats: dict[str, dict[str, Any]] = {
        r.name: {"name": r.name, "action": r.action.value, "shadow": r.shadow, "hits": 0,
                 "fraud_hits": 0, "by_fraud_type": {}}
        for r in rules.rules
    }  # fmt: skip
    with_rules = RiskEngine(model, rules, lists, FeatureState())
    without = RiskEngine(model, None, lists, FeatureState())
    flags_with: list[tuple[bool, bool]] = []
    flags_without: list[tuple[bool, bool]] = []
    fraud_total: dict[str, int] = {}
    items = list(read_labelled(path, on_reject))
    for item, d in decide_labelled(with_rules, iter(items)):
        fraud = item.fraud is not None
        if item.fraud:
            fraud_total[item.fraud] = fraud_total.get(item.fraud, 0) + 1
        flags_with.append((d.decision is not Action.ALLOW, fraud))
        names = [r.removeprefix("rule:") for r in d.reasons if r.startswith("rule:")]
        for name in [*names, *d.shadow]:
            s = stats[name]
            s["hits"] += 1
            if item.fraud:
                s["fraud_hits"] += 1
                s["by_fraud_type"][item.fraud] = s["by_fraud_type"].get(item.fraud, 0) + 1
    for _item, d in decide_labelled(without, iter(items)):
        flags_without.append((d.decision is not Action.ALLOW, _item.fraud is not None))
    for s in stats.values():
        s["precision"] = round(s["fraud_hits"] / s["hits"], 4) if s["hits"] else None
    return {
        "rules_version": rules.version,
        "events": len(items),
        "fraud_events": fraud_total,
        "rules": list(stats.values()),
        "with_rules": _decision_stats(flags_with),
        "without_rules": _decision_stats(flags_without),
    }


def compare(a: RuleSet, b: RuleSet, model: Model | None, lists: Lists, path: Path,
            on_reject: Callable[[Rejected], None]) -> dict[str, Any]:  # fmt: skip
    """Two rule-set versions on the same events: each one's decision quality and rule hits,
    and how many decisions would change going from A to B (by `from->to`)."""
    items = list(read_labelled(path, on_reject))
    runs = []
    for rules in (a, b):
        engine = RiskEngine(model, rules, lists, FeatureState())
        runs.append([d for _item, d in decide_labelled(engine, iter(items))])
    changed: dict[str, int] = {}
    for da, db in zip(runs[0], runs[1], strict=True):
        if da.decision is not db.decision:
            key = f"{da.decision.value}->{db.decision.value}"
            changed[key] = changed.get(key, 0) + 1
    sides = {}
    for name, rules, decisions in (("a", a, runs[0]), ("b", b, runs[1])):
        hits: dict[str, int] = {r.name: 0 for r in rules.rules}
        for d in decisions:
            for rule in [r.removeprefix("rule:") for r in d.reasons if r.startswith("rule:")]:
                hits[rule] += 1
            for rule in d.shadow:
                hits[rule] += 1
        flags = [(d.decision is not Action.ALLOW, it.fraud is not None)
                 for it, d in zip(items, decisions, strict=True)]  # fmt: skip
        sides[name] = {"rules_version": rules.version, "rule_hits": hits, **_decision_stats(flags)}
    return {
        "events": len(items),
        "fraud_events": sum(1 for it in items if it.fraud),
        "a": sides["a"],
        "b": sides["b"],
        "changed": sum(changed.values()),
        "changed_by_transition": dict(sorted(changed.items())),
    }
