"""Ranking and decision metrics, written out so their definitions are on the page.

AUPRC is average precision (the step-wise area, as scikit-learn computes it); ties in the score
are ranked pessimistically-neutral by taking them as one block.
"""

from __future__ import annotations

import numpy as np


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Average precision of SCORE for binary Y; NaN when there is no positive."""
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-score, kind="stable")
    s, t = score[order], y[order].astype(np.float64)
    tp = np.cumsum(t)
    fp = np.cumsum(1.0 - t)
    # Only the last index of each run of equal scores is a threshold.
    last = np.r_[s[1:] != s[:-1], True]
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / positives
    prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - prev) * precision))


def recall_at_fpr(y: np.ndarray, score: np.ndarray, fpr: float = 0.01) -> float:
    """Share of positives scored above the threshold that lets FPR of negatives through."""
    neg = score[y == 0]
    pos = score[y == 1]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    threshold = np.quantile(neg, 1.0 - fpr, method="higher")
    return float(np.mean(pos > threshold))


def precision_recall(y: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    tp = int(np.sum(flagged & (y == 1)))
    n_flag, n_pos = int(flagged.sum()), int(y.sum())
    precision = tp / n_flag if n_flag else float("nan")
    recall = tp / n_pos if n_pos else float("nan")
    return precision, recall


def calibration_error(y: np.ndarray, score: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: per equal-width score bin, |mean score - fraud rate|,
    weighted by the bin's share of events."""
    if len(y) == 0:
        return float("nan")
    which = np.minimum((score * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(float(score[mask].mean()) - float(y[mask].mean()))
    return total
