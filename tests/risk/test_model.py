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


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found"):
        Model.load(tmp_path / "nope.json")
