"""State survives a restart: A, save, load, B scores like A then B in one process."""

from __future__ import annotations

from pathlib import Path

import pytest

from rongpay.risk.engine import RiskEngine
from rongpay.risk.errors import StateFileError
from rongpay.risk.event import Event, read_events
from rongpay.risk.model import Model
from rongpay.risk.profile import profile
from rongpay.risk.snapshot import load_state, save_state


def test_restart_keeps_state(sim_file: Path, tmp_path: Path) -> None:
    events = [e for _l, e in read_events(sim_file) if isinstance(e, Event)][:6000]
    model = Model.load()
    together = RiskEngine(model).decide_many(events)
    first = RiskEngine(model)
    part_a = first.decide_many(events[:3500])
    state_path = tmp_path / "state.json"
    save_state(first.state, state_path)
    second = RiskEngine(model, state=load_state(state_path))
    part_b = second.decide_many(events[3500:])
    assert part_a + part_b == together
    # and a cold start is different, so the test can fail
    cold = RiskEngine(model).decide_many(events[3500:])
    assert [d.score for d in cold] != [d.score for d in part_b]


def test_profile_from_state(sim_file: Path) -> None:
    events = [e for _l, e in read_events(sim_file) if isinstance(e, Event)][:5000]
    engine = RiskEngine(None)
    engine.decide_many(events)
    found = profile(engine.state, events[10].payer)
    assert found is not None and found["outgoing_events"] >= 1
    assert found["devices"] or events[10].device_id is None
    assert profile(engine.state, "acct_never_seen") is None


def test_missing_state_file_is_a_fresh_state(tmp_path: Path) -> None:
    assert load_state(tmp_path / "none.json").accounts == {}


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"{", "cannot read"), (b'{"format": "x"}', "not a rongpay risk state"),
     (b'{"format": "rongpay-risk-state/1", "now": 1}', "corrupt")],
)  # fmt: skip
def test_bad_state_files(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(content)
    with pytest.raises(StateFileError, match=needle):
        load_state(path)
