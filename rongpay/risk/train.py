"""`rongpay risk train`: gradient-boosted trees on simulated traffic, split by time.

The first TRAIN_FRAC of the time span trains the trees, the next CALIB_FRAC fits the Platt
calibration, the rest is validation reported back. Nothing is shuffled across time, so the
validation numbers are what a model deployed on day N would have seen on day N+1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from rongpay.risk.dataset import Dataset
from rongpay.risk.features import FEATURES
from rongpay.risk.metrics import average_precision, recall_at_fpr
from rongpay.risk.model import MODEL_FORMAT, Model, Thresholds

VALUE_DIGITS = 6


@dataclass(frozen=True, slots=True)
class TrainConfig:
    seed: int = 42
    max_iter: int = 120
    learning_rate: float = 0.1
    max_leaf_nodes: int = 15
    max_depth: int = 6
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    train_frac: float = 0.6
    calib_frac: float = 0.2


def time_masks(ts: np.ndarray, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = float(ts.min()), float(ts.max())
    cut1 = lo + (hi - lo) * cfg.train_frac
    cut2 = lo + (hi - lo) * (cfg.train_frac + cfg.calib_frac)
    return ts < cut1, (ts >= cut1) & (ts < cut2), ts >= cut2


def export_tree(nodes: np.ndarray) -> tuple[dict[str, Any], int]:
    """One sklearn predictor's nodes as plain lists, with every node's expected value."""
    n = len(nodes)
    feature = [-1 if nodes["is_leaf"][i] else int(nodes["feature_idx"][i]) for i in range(n)]
    left = [int(v) for v in nodes["left"]]
    right = [int(v) for v in nodes["right"]]
    count = [int(v) for v in nodes["count"]]
    value = [float(v) for v in nodes["value"]]
    for i in reversed(range(n)):  # children have larger indices than parents
        if feature[i] >= 0:
            lo, hi = left[i], right[i]
            value[i] = (value[lo] * count[lo] + value[hi] * count[hi]) / max(
                1, count[lo] + count[hi]
            )
    depth = int(nodes["depth"].max()) + 1
    tree: dict[str, Any] = {
        "feature": feature,
        "threshold": [
            float(v) if f >= 0 else 0.0
            for v, f in zip(nodes["num_threshold"], feature, strict=True)
        ],
        "left": [v if f >= 0 else -1 for v, f in zip(left, feature, strict=True)],
        "right": [v if f >= 0 else -1 for v, f in zip(right, feature, strict=True)],
        "value": [round(v, VALUE_DIGITS) for v in value],
    }
    return tree, depth


def fit_platt(raw: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():
        return 1.0, 0.0
    lr = LogisticRegression(C=1e6, random_state=seed).fit(raw.reshape(-1, 1), y)
    return float(lr.coef_[0][0]), float(lr.intercept_[0])


def train(ds: Dataset, cfg: TrainConfig, meta: dict[str, Any]) -> tuple[Model, dict[str, Any]]:
    """Fit, calibrate and validate; return the model and a report."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    y = ds.y
    tr, cal, val = time_masks(ds.ts_s, cfg)
    if y[tr].sum() < 5 or y[cal].sum() < 2:
        raise ValueError("too few fraud events to train on: simulate more days or customers")
    hgb = HistGradientBoostingClassifier(
        max_iter=cfg.max_iter, learning_rate=cfg.learning_rate, max_leaf_nodes=cfg.max_leaf_nodes,
        max_depth=cfg.max_depth, min_samples_leaf=cfg.min_samples_leaf,
        l2_regularization=cfg.l2_regularization, early_stopping=False, random_state=cfg.seed,
    )  # fmt: skip
    hgb.fit(ds.x[tr], y[tr])
    trees, depths = zip(*(export_tree(p[0].nodes) for p in hgb._predictors), strict=True)
    doc: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "version": meta.get("version") or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
        "features": list(FEATURES),
        "baseline": float(np.ravel(hgb._baseline_prediction)[0]),
        "max_depth": max(depths),
        "trees": list(trees),
        "calibration": {"kind": "platt", "a": 1.0, "b": 0.0},
        "thresholds": {
            "review": Thresholds().review,
            "challenge": Thresholds().challenge,
            "block": Thresholds().block,
        },
        "trained": {**meta, "config": {k: getattr(cfg, k) for k in cfg.__slots__}},
    }
    model = Model(doc)
    a, b = fit_platt(model.raw_batch(ds.x[cal]), y[cal], cfg.seed)
    doc["calibration"] = {"kind": "platt", "a": a, "b": b}
    model = Model(doc)
    scores = model.score_batch(ds.x[val])
    report = {
        "rows": {
            "train": int(tr.sum()),
            "calibration": int(cal.sum()),
            "validation": int(val.sum()),
        },
        "fraud_rows": {"train": int(y[tr].sum()), "validation": int(y[val].sum())},
        "validation_auprc": average_precision(y[val], scores),
        "validation_amount_only_auprc": average_precision(y[val], ds.amount_cny[val]),
        "validation_recall_at_1pct_fpr": recall_at_fpr(y[val], scores),
    }
    doc["trained"]["validation"] = report
    return Model(doc), report
