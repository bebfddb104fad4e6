"""Labelled event files turned into feature matrices, for training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from rongpay.risk.errors import EventError
from rongpay.risk.event import event_from_mapping
from rongpay.risk.features import FEATURES, FeatureState
from rongpay.risk.reference import amount_cny


@dataclass(frozen=True, slots=True)
class Dataset:
    x: np.ndarray  # (n, len(FEATURES)) float64
    fraud_type: list[str | None]  # label_fraud per row
    ts_s: np.ndarray
    amount_cny: np.ndarray
    ids: list[str]
    payees: list[str]
    rejected: int

    @property
    def y(self) -> np.ndarray:
        return np.array([t is not None for t in self.fraud_type], dtype=np.int8)


def load_labelled(path: Path, state: FeatureState | None = None) -> Dataset:
    """Run the online features over PATH (bad lines skipped and counted)."""
    state = state or FeatureState()
    rows: list[list[float]] = []
    labels: list[str | None] = []
    ts: list[float] = []
    amounts: list[float] = []
    ids: list[str] = []
    payees: list[str] = []
    rejected = 0
    last = float("-inf")
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
                ev = event_from_mapping(obj)
            except (orjson.JSONDecodeError, EventError):
                rejected += 1
                continue
            if ev.ts_s < last:
                rejected += 1
                continue
            last = ev.ts_s
            rows.append(state.observe(ev))
            label = obj.get("label_fraud")
            labels.append(label if isinstance(label, str) else None)
            ts.append(ev.ts_s)
            amounts.append(amount_cny(ev.amount_minor, ev.currency))
            ids.append(ev.id)
            payees.append(ev.payee)
    x = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURES))
    return Dataset(x, labels, np.asarray(ts), np.asarray(amounts), ids, payees, rejected)
