"""The model file: bulk and single evaluation agree, training is reproducible, bad files fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from rongpay.risk.dataset import load_labelled
from rongpay.risk.errors import ModelFileError
from rongpay.risk.features import FEATURES
from rongpay.risk.model import Model
from rongpay.risk.train import TrainConfig, train


@pytest.fixture(scope="module")
def dataset(sim_file: Path):  # type: ignore[no-untyped-def]
    return load_labelled(sim_file)


def test_default_model_loads_and_is_small() -> None:
    model = Model.load()
    assert model.version.startswith("default-")
    from importlib import resources

    size = len(resources.files("rongpay.risk").joinpath("default_model.json").read_bytes())
    assert size < 2_000_000


def test_single_and_bulk_agree(dataset) -> None:  # type: ignore[no-untyped-def]
    model = Model.load()
    x = dataset.x[:500]
    bulk = model.raw_batch(x)
    for i in range(0, 500, 13):
        raw, contrib = model.raw_one(list(x[i]))
        assert abs(raw - bulk[i]) < 1e-9
        assert model.raw_score(list(x[i])) == bulk[i]  # the compiled trees: the same sums
        assert len(contrib) == len(FEATURES)
    scores = model.score_batch(x)
    assert np.all((scores >= 0) & (scores <= 1))
    assert abs(model.calibrate(float(bulk[0])) - scores[0]) < 1e-12


def test_exported_trees_match_sklearn(dataset) -> None:  # type: ignore[no-untyped-def]
    from sklearn.ensemble import HistGradientBoostingClassifier

    from rongpay.risk.train import export_tree

    y = dataset.y
    hgb = HistGradientBoostingClassifier(max_iter=15, random_state=0, early_stopping=False)
    hgb.fit(dataset.x, y)
    ours = np.full(len(y), float(np.ravel(hgb._baseline_prediction)[0]))
    trees = [export_tree(p[0].nodes)[0] for p in hgb._predictors]
    doc = {"format": "rongpay-risk-model/1", "version": "t", "features": list(FEATURES),
           "baseline": float(ours[0]), "trees": trees, "calibration": {"a": 1.0, "b": 0.0},
           "thresholds": {"review": 0.3, "challenge": 0.6, "block": 0.9}}  # fmt: skip
    raw = Model(doc).raw_batch(dataset.x)
    np.testing.assert_allclose(raw, hgb.decision_function(dataset.x), atol=1e-5)


def test_training_is_reproducible(dataset) -> None:  # type: ignore[no-untyped-def]
    cfg = TrainConfig(seed=3, max_iter=15)
    a, report = train(dataset, cfg, {"version": "v1"})
    b, _ = train(dataset, cfg, {"version": "v1"})
    assert orjson.dumps(a.doc) == orjson.dumps(b.doc)
    assert report["rows"]["train"] > report["rows"]["validation"] > 0


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"{", "cannot read"),
        (b'{"format": "other"}', "not a rongpay risk model"),
        (b'{"format": "rongpay-risk-model/1", "features": ["a"]}', "other features"),
        (orjson.dumps({"format": "rongpay-risk-model/1", "features": list(FEATURES)}), "corrupt"),
    ],
)
def test_bad_model_files(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=needle):
        Model.load(path)


def _one_tree_doc(tree: dict[str, object]) -> dict[str, object]:
    return {"format": "rongpay-risk-model/1", "version": "t", "features": list(FEATURES),
            "baseline": 0.0, "trees": [tree], "calibration": {"a": 1.0, "b": 0.0},
            "thresholds": {"review": 0.3, "challenge": 0.6, "block": 0.9}}  # fmt: skip


@pytest.mark.parametrize(
    "tree",
    [
        # a threshold that is not a number: the compiled trees must never take it as code
        {"feature": [0, -1, -1], "threshold": ["__import__('os')", 0, 0], "left": [1, 0, 0],
         "right": [2, 0, 0], "value": [0, 1, 2]},
        {"feature": [0, -1, -1], "threshold": [float("nan"), 0, 0], "left": [1, 0, 0],
         "right": [2, 0, 0], "value": [0, 1, 2]},
        {"feature": [len(FEATURES), -1, -1], "threshold": [1, 0, 0], "left": [1, 0, 0],
         "right": [2, 0, 0], "value": [0, 1, 2]},
        {"feature": [0, 0], "threshold": [1, 1], "left": [1, 0], "right": [1, 0],
         "value": [0, 1]},  # a cycle: never reaches a leaf
        {"feature": [0, -1], "threshold": [1, 0], "left": [1, 0], "right": [7, 0],
         "value": [0, 1]},  # a child that does not exist
        {"feature": [0, 1, -1], "threshold": [1, 1, 0], "left": [1, 2, 0],
         "right": [1, 2, 0], "value": [0, 1, 2]},  # shared children: a graph, not a tree
    ],
)  # fmt: skip
def test_bad_trees_are_refused(tmp_path: Path, tree: dict[str, object]) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(orjson.dumps(_one_tree_doc(tree)))
    with pytest.raises(ModelFileError, match="corrupt"):
        Model.load(path)


def test_compiled_tree_takes_each_branch() -> None:
    tree = {"feature": [2, -1, -1], "threshold": [0.5, 0, 0], "left": [1, 0, 0],
            "right": [2, 0, 0], "value": [0.0, -1.25, 3.5]}  # fmt: skip
    model = Model(_one_tree_doc(tree))
    x = [0.0] * len(FEATURES)
    assert model.raw_score(x) == -1.25
    x[2] = 0.75
    assert model.raw_score(x) == 3.5
    assert model.raw_one(x)[0] == 3.5


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        Model.load(tmp_path / "nope.json")
