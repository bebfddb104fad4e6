"""The trained model as plain data: gradient-boosted trees, a calibration curve, thresholds.

A model file is JSON (no pickle: loading one cannot run code, and it outlives library
versions). Trees are evaluated two ways that agree: one event at a time in pure Python, which
also yields per-feature contributions (Saabas: the change of a node's expected value along the
decision path), and many events at once with numpy for file throughput.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from rongpay.risk.errors import ModelFileError
from rongpay.risk.features import FEATURES

MODEL_FORMAT = "rongpay-risk-model/1"
DEFAULT_MODEL = "default_model.json"
MAX_REASONS = 3
MIN_CONTRIBUTION = 0.05  # a feature must push the log-odds up at least this much to be a reason


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Calibrated-score cut-offs, lowest first: at or above each, that decision."""

    review: float = 0.3
    challenge: float = 0.6
    block: float = 0.9

    def check(self) -> None:
        if not 0.0 <= self.review <= self.challenge <= self.block <= 1.0:
            raise ValueError("thresholds must satisfy 0 <= review <= challenge <= block <= 1")


@dataclass(frozen=True, slots=True)
class Tree:
    feature: list[int]  # -1 marks a leaf
    threshold: list[float]
    left: list[int]
    right: list[int]
    value: list[float]  # expected raw score at every node; a leaf's own value at a leaf


@dataclass(frozen=True, slots=True)
class FlatTree:
    """A tree for bulk evaluation: leaves loop to themselves, so every row can take the same
    number of steps."""

    feature: np.ndarray
    threshold: np.ndarray
    kids: np.ndarray  # kids[2*i] left child of i, kids[2*i+1] right child
    value: np.ndarray
    depth: int


def _flat(t: Tree) -> FlatTree:
    n = len(t.feature)
    feature = np.array([max(f, 0) for f in t.feature], dtype=np.int64)
    threshold = np.array(
        [thr if f >= 0 else np.inf for thr, f in zip(t.threshold, t.feature, strict=True)]
    )
    kids = np.empty(2 * n, dtype=np.int64)
    depth = [0] * n
    for i, f in enumerate(t.feature):
        left, right = (t.left[i], t.right[i]) if f >= 0 else (i, i)
        kids[2 * i], kids[2 * i + 1] = left, right
        if f >= 0:
            depth[left] = depth[right] = depth[i] + 1
    return FlatTree(feature, threshold, kids, np.asarray(t.value, dtype=np.float64), max(depth))


MAX_DEPTH = 64  # deeper than any tree `rongpay risk train` grows; a deeper file is refused


def _compile(base: float, trees: list[Tree], width: int) -> Callable[[list[float]], float]:
    """The trees as one Python function of nested comparisons: BASE plus the leaf each tree
    reaches, added in tree order (so `decide` and `decide_many` give the same bits). CPython
    runs a compiled `if x[3] <= 0.5:` several times faster than a loop walking node arrays
    (about 9 us instead of 60 for the shipped model).

    The source is made only of numbers checked here (feature indexes in range, finite
    thresholds and values, each node reached once, depth bounded), so a model file
    still cannot run code: anything else raises ValueError before compile()."""
    lines = ["def raw(x):", f" t = {_number(base)}"]  # base first, then each tree's leaf,
    for tree in trees:
        _emit(tree, 0, 1, lines, width, set())
    lines.append(" return t")  # in tree order: the same sums, bit for bit, as raw_batch
    scope: dict[str, Any] = {}
    exec(compile("\n".join(lines), "<risk-model>", "exec"), scope)  # only checked numbers
    raw: Callable[[list[float]], float] = scope["raw"]
    return raw


def _emit(tree: Tree, node: int, depth: int, lines: list[str], width: int, seen: set[int]) -> None:
    if depth > MAX_DEPTH or not 0 <= node < len(tree.feature) or node in seen:
        raise ValueError(f"tree node {node}: out of range, reached twice or too deep")
    seen.add(node)
    pad = " " * depth
    f = int(tree.feature[node])
    if f < 0:
        lines.append(f"{pad}t += {_number(tree.value[node])}")
        return
    if f >= width:
        raise ValueError(f"feature index {f} out of range")
    lines.append(f"{pad}if x[{f}] <= {_number(tree.threshold[node])}:")
    _emit(tree, int(tree.left[node]), depth + 1, lines, width, seen)
    lines.append(f"{pad}else:")
    _emit(tree, int(tree.right[node]), depth + 1, lines, width, seen)


def _number(value: float) -> str:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"non-finite number {v!r} in a tree")
    return repr(v)


class Model:
    """A loaded model: `score_one` for decisions, `score_batch` for files."""

    def __init__(self, doc: dict[str, Any]) -> None:
        if doc.get("format") != MODEL_FORMAT:
            raise ModelFileError(f"not a rongpay risk model (format {doc.get('format')!r})")
        if list(doc.get("features", [])) != list(FEATURES):
            raise ModelFileError(
                "model was trained on other features; retrain it (rongpay risk train)"
            )
        self.doc = doc
        self.version: str = str(doc["version"])
        self.base = float(doc["baseline"])
        self.trees = [
            Tree(t["feature"], t["threshold"], t["left"], t["right"], t["value"])
            for t in doc["trees"]
        ]
        self.cal_a = float(doc["calibration"]["a"])
        self.cal_b = float(doc["calibration"]["b"])
        self.thresholds = Thresholds(**doc["thresholds"])
        self._raw = _compile(self.base, self.trees, len(FEATURES))  # checks every node first
        self._arrays = [_flat(t) for t in self.trees]

    @classmethod
    def load(cls, path: Path | None = None) -> Model:
        try:
            if path is None:
                raw = resources.files("rongpay.risk").joinpath(DEFAULT_MODEL).read_bytes()
            else:
                raw = Path(path).read_bytes()
            doc = orjson.loads(raw)
        except FileNotFoundError:
            raise ModelFileError(f"model file {path or DEFAULT_MODEL} not found") from None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ModelFileError(f"cannot read model file {path or DEFAULT_MODEL}: {exc}") from None
        try:
            return cls(doc)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"model file {path or DEFAULT_MODEL} is corrupt: {exc}") from None

    def calibrate(self, raw: float) -> float:
        """Platt scaling: a strictly increasing map, so ranking (and AUPRC) is untouched."""
        z = self.cal_a * raw + self.cal_b
        return 1.0 / (1.0 + math.exp(-z)) if z > -500 else 0.0

    def raw_score(self, x: list[float]) -> float:
        """Raw log-odds of one feature vector: the path to each tree's leaf, nothing more
        (what a decision needs; contributions are computed only to explain one)."""
        return self._raw(x)

    def raw_one(self, x: list[float]) -> tuple[float, list[float]]:
        """Raw log-odds of one feature vector and each feature's contribution to it."""
        contrib = [0.0] * len(x)
        total = self.base
        for tree in self.trees:
            feature, threshold, left, right, value = (
                tree.feature,
                tree.threshold,
                tree.left,
                tree.right,
                tree.value,
            )
            node = 0
            f = feature[0]
            total += value[0]
            while f >= 0:
                child = left[node] if x[f] <= threshold[node] else right[node]
                contrib[f] += value[child] - value[node]
                node = child
                f = feature[node]
        return total + sum(contrib), contrib

    def raw_batch(self, x: np.ndarray) -> np.ndarray:
        """Raw log-odds for each row of X (n, features), level by level over all rows."""
        n = x.shape[0]
        flat = np.ascontiguousarray(x.T, dtype=np.float64).ravel()  # feature-major
        rows = np.arange(n, dtype=np.int64)
        total = np.full(n, self.base)
        for t in self._arrays:
            node = np.zeros(n, dtype=np.int64)
            for _ in range(t.depth):
                go_right = flat.take(t.feature.take(node) * n + rows) > t.threshold.take(node)
                node = t.kids.take(2 * node + go_right)
            total += t.value.take(node)
        return total

    def score_batch(self, x: np.ndarray) -> np.ndarray:
        z = np.clip(self.cal_a * self.raw_batch(x) + self.cal_b, -500.0, 500.0)
        scores: np.ndarray = 1.0 / (1.0 + np.exp(-z))
        return scores

    def reasons(self, contrib: list[float]) -> list[str]:
        ranked = sorted(range(len(contrib)), key=lambda i: contrib[i], reverse=True)
        return [FEATURES[i] for i in ranked[:MAX_REASONS] if contrib[i] >= MIN_CONTRIBUTION]
