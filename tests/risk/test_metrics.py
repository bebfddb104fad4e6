"""Metric definitions against scikit-learn and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rongpay.risk.metrics import (
    average_precision,
    calibration_error,
    precision_recall,
    recall_at_fpr,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=2, max_size=60))
def test_average_precision_matches_sklearn(pairs: list[tuple[bool, int]]) -> None:
    from sklearn.metrics import average_precision_score

    y = np.array([int(a) for a, _ in pairs])
    s = np.array([float(b) for _, b in pairs])
    if y.sum() == 0:
        assert math.isnan(average_precision(y, s))
        return
    assert math.isclose(average_precision(y, s), average_precision_score(y, s), abs_tol=1e-9)


def test_recall_at_fpr_hand_computed() -> None:
    y = np.array([0] * 100 + [1] * 4)
    s = np.array([i / 100 for i in range(100)] + [0.995, 0.985, 0.5, 2.0])
    # 1% FPR: the threshold is the highest negative (0.99): positives above it are 0.995 and 2.0
    assert recall_at_fpr(y, s, 0.01) == 0.5


def test_precision_recall() -> None:
    y = np.array([1, 1, 0, 0])
    flagged = np.array([True, False, True, False])
    assert precision_recall(y, flagged) == (0.5, 0.5)


def test_calibration_error() -> None:
    y = np.array([0, 0, 1, 1])
    assert calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    # all scored 0.5 in one bin: |0.5 - 0.5| = 0; all scored 0.9 with half fraud: 0.4
    assert calibration_error(y, np.full(4, 0.5)) == 0.0
    assert abs(calibration_error(y, np.full(4, 0.9)) - 0.4) < 1e-12
