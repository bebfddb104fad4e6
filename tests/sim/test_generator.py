"""The simulator: format, time order, determinism, labels, the CLI's bad input."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import orjson
import pytest

from rongpay.cli import main
from rongpay.sim.generator import SimConfig, SimConfigError, generate

KEYS = {
    "id", "ts", "type", "amount_minor", "currency", "payer", "payee", "payer_country",
    "payee_country", "channel", "device_id", "ip", "mcc", "label_fraud", "label_aml",
    "label_aml_case",
}  # fmt: skip
FRAUD = {None, "card_testing", "account_takeover", "stolen_card", "synthetic_identity"}
AML = {
    None, "structuring", "fan_in", "fan_out", "cycle", "pass_through",
    "dormant_reactivation", "high_risk_geo",
}  # fmt: skip


@pytest.fixture(scope="module")
def events() -> list[dict[str, object]]:
    return list(generate(SimConfig(days=12, customers=400, merchants=40, seed=7)))


def test_format_and_order(events: list[dict[str, object]]) -> None:
    assert len(events) > 3000
    last = ""
    for ev in events:
        assert set(ev) == KEYS
        ts = str(ev["ts"])
        assert ts.endswith("Z") and dt.datetime.fromisoformat(ts)
        assert ts >= last
        last = ts
        assert isinstance(ev["amount_minor"], int) and ev["amount_minor"] > 0
        assert ev["type"] in {"payment", "transfer", "topup", "withdrawal", "refund"}
        assert ev["channel"] in {"card", "wallet", "bank", "qr", "nfc", "pos"}
        assert ev["mcc"] is None or (isinstance(ev["mcc"], str) and len(ev["mcc"]) == 4)
        assert ev["label_fraud"] in FRAUD and ev["label_aml"] in AML
        assert (ev["label_aml"] is None) == (ev["label_aml_case"] is None)
    assert len({ev["id"] for ev in events}) == len(events)


def test_every_label_present(events: list[dict[str, object]]) -> None:
    assert {ev["label_fraud"] for ev in events} == FRAUD
    assert {ev["label_aml"] for ev in events} == AML


def test_one_typology_per_case(events: list[dict[str, object]]) -> None:
    typology: dict[object, object] = {}
    for ev in events:
        if ev["label_aml_case"] is not None:
            assert typology.setdefault(ev["label_aml_case"], ev["label_aml"]) == ev["label_aml"]
    assert len(typology) >= 7


def test_structuring_just_under_the_threshold(events: list[dict[str, object]]) -> None:
    tops = [e for e in events if e["label_aml"] == "structuring" and e["type"] == "topup"]
    assert tops
    assert all(4_500_000 <= int(str(e["amount_minor"])) < 5_000_000 for e in tops)


def test_ids_do_not_reveal_roles(events: list[dict[str, object]]) -> None:
    accounts = {str(e["payer"]) for e in events} | {str(e["payee"]) for e in events}
    assert all(a.startswith("acct_") and len(a) == 17 for a in accounts)


def test_deterministic_per_seed() -> None:
    cfg = SimConfig(days=3, customers=100, merchants=10, seed=3)
    first = list(itertools.islice(generate(cfg), 500))
    assert first == list(itertools.islice(generate(cfg), 500))
    other = list(itertools.islice(generate(SimConfig(3, 100, 10, seed=4)), 500))
    assert first != other


def test_config_limits() -> None:
    with pytest.raises(SimConfigError, match="--days"):
        SimConfig(days=0, customers=10, merchants=1).check()


def test_cli_writes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ev.jsonl"
    code = main(["simulate", "--days", "2", "--customers", "50", "--merchants", "5",
                 "--out", str(out), "--seed", "1"])  # fmt: skip
    assert code == 0
    lines = out.read_bytes().splitlines()
    assert lines and orjson.loads(lines[0])["id"] == "evt_0000000001"
    assert "wrote" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--days", "0"], "--days must be"),
        (["--days", "2", "--start", "soon"], "--start must be a date"),
        (["--days", "2", "--out", "/nonexistent/dir/x.jsonl"], "does not exist"),
    ],
)
def test_cli_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    base = ["simulate", "--customers", "10", "--merchants", "2", "--out", str(tmp_path / "o")]
    code = main([*base, *argv])
    assert code == 2
    assert message in capsys.readouterr().err


def test_sleepers_are_silent_until_they_wake(events: list[dict[str, object]]) -> None:
    """A dormant account has honest traffic on local days 0-1 only, then nothing until its case."""
    cases = [e for e in events if e["label_aml"] == "dormant_reactivation"]
    sleepers = {str(e["payer"]) for e in cases if e["type"] == "withdrawal"}
    assert sleepers
    asleep_from = _day(events, 2)
    for sleeper in sleepers:
        wake = min(str(e["ts"]) for e in cases if sleeper in (e["payer"], e["payee"]))
        noise = [
            e for e in events
            if sleeper in (e["payer"], e["payee"]) and asleep_from <= str(e["ts"]) < wake
        ]  # fmt: skip
        assert noise == []


def _day(events: list[dict[str, object]], n: int) -> str:
    start = dt.datetime.fromisoformat(str(events[0]["ts"]))
    local_midnight = start.replace(hour=16, minute=0, second=0)  # 00:00 at UTC+8
    return (local_midnight + dt.timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
