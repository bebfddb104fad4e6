"""`rongpay risk eval`: how well scores and decisions catch labelled fraud, beside a baseline.

The baseline ranks events by amount alone (CNY-equivalent): what a "big payments are risky"
rule would get. Metrics are on the held-out tail of the file (the last HOLDOUT days) while the
whole file still feeds the features, so the model is judged on days it has history for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rongpay.risk.decision import Action
from rongpay.risk.engine import RiskEngine
from rongpay.risk.event import Rejected
from rongpay.risk.metrics import (
    average_precision,
    calibration_error,
    precision_recall,
    recall_at_fpr,
)
from rongpay.risk.reference import amount_cny
from rongpay.risk.service import decide_labelled, read_labelled

DECISION_CODES = {Action.ALLOW: 0, Action.REVIEW: 1, Action.CHALLENGE: 2, Action.BLOCK: 3}


def _collect(
    engine: RiskEngine, path: Path, on_reject: Callable[[Rejected], None]
) -> dict[str, Any]:
    ts, score, amount, decision, labels = [], [], [], [], []
    for item, d in decide_labelled(engine, read_labelled(path, on_reject)):
        ts.append(item.event.ts_s)
        score.append(d.score)
        amount.append(amount_cny(item.event.amount_minor, item.event.currency))
        decision.append(DECISION_CODES[d.decision])
        labels.append(item.fraud)
    return {
        "ts": np.asarray(ts),
        "score": np.asarray(score),
        "amount": np.asarray(amount),
        "decision": np.asarray(decision, dtype=np.int8),
        "labels": labels,
    }


def _metrics(
    y: np.ndarray, score: np.ndarray, amount: np.ndarray, decision: np.ndarray
) -> dict[str, Any]:
    auprc = average_precision(y, score)
    base = average_precision(y, amount)
    flagged_p, flagged_r = precision_recall(y, decision > 0)
    block_p, block_r = precision_recall(y, decision == 3)
    return {
        "events": len(y),
        "fraud_events": int(y.sum()),
        "auprc": _round(auprc),
        "baseline_amount_auprc": _round(base),
        "auprc_vs_baseline": _round(auprc / base) if base and base == base and base > 0 else None,
        "recall_at_1pct_fpr": _round(recall_at_fpr(y, score)),
        "baseline_recall_at_1pct_fpr": _round(recall_at_fpr(y, amount)),
        "flagged_precision": _round(flagged_p),
        "flagged_recall": _round(flagged_r),
        "block_precision": _round(block_p),
        "block_recall": _round(block_r),
        "brier": _round(float(np.mean((score - y) ** 2))) if len(y) else None,
        "calibration_error": _round(calibration_error(y, score)),
    }


def _round(v: float) -> float | None:
    return None if v != v else round(float(v), 4)


def evaluate(engine: RiskEngine, path: Path, holdout_days: float | None,
             on_reject: Callable[[Rejected], None]) -> dict[str, Any]:  # fmt: skip
    """Overall and per-fraud-type metrics on PATH (its last HOLDOUT_DAYS when given)."""
    data = _collect(engine, path, on_reject)
    ts = data["ts"]
    keep = np.ones(len(ts), dtype=bool)
    if holdout_days is not None and len(ts):
        keep = ts >= ts.max() - holdout_days * 86400.0
    labels = [lab for lab, k in zip(data["labels"], keep, strict=True) if k]
    score, amount, decision = data["score"][keep], data["amount"][keep], data["decision"][keep]
    y = np.array([lab is not None for lab in labels], dtype=np.int8)
    counts = {a.value: int(np.sum(decision == c)) for a, c in DECISION_CODES.items()}
    report: dict[str, Any] = {
        "events_scored": len(ts),
        "holdout_days": holdout_days,
        "overall": _metrics(y, score, amount, decision),
        "decisions": counts,
        "by_fraud_type": {},
    }
    for kind in sorted({lab for lab in labels if lab}):
        mask = np.array([lab is None or lab == kind for lab in labels])
        yk = np.array([lab == kind for lab in labels], dtype=np.int8)[mask]
        report["by_fraud_type"][kind] = _metrics(yk, score[mask], amount[mask], decision[mask])
    return report
