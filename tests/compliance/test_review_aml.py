"""Review findings on transaction monitoring: each failed before its fix."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from rongpay.cli import main
from rongpay.compliance.aml_engine import Monitor
from rongpay.compliance.aml_params import AmlParams
from rongpay.compliance.errors import EventFormatError, InvalidInput
from rongpay.compliance.events import parse_event

from .factories import ev, jsonl, run, scenarios

# A1: an event with no payer and no payee above the large-value alert threshold


def test_large_topup_without_accounts_alerts_on_a_placeholder(tmp_path, capsys):
    raw = {
        "id": "e1",
        "ts": "2026-10-01T00:00:00Z",
        "type": "topup",
        "amount_minor": 100_000_000,
        "currency": "CNY",
    }
    path = tmp_path / "x.jsonl"
    path.write_bytes(jsonl([raw, {**raw, "id": "e2"}]))
    assert main(["aml", "scan", str(path), "--quiet"]) == 0
    alerts = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["accounts"] for a in alerts] == [["unknown:e1"], ["unknown:e2"]]
    assert main(["aml", "eval", str(path), "--json"]) == 0


# A2: times that cannot be printed back


@pytest.mark.parametrize(
    "ts", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "1969-12-31T23:59:59Z"]
)
def test_times_outside_1970_9999_utc_are_bad_lines(ts):
    raw = {"id": "e", "ts": ts, "type": "topup", "amount_minor": 1, "currency": "CNY"}
    with pytest.raises(EventFormatError, match=r"outside 1970-01-01\.\.9999-12-31 UTC"):
        parse_event(raw, 7)


def test_extreme_but_valid_times_parse():
    raw = {"id": "e", "type": "topup", "amount_minor": 1, "currency": "CNY"}
    assert parse_event({**raw, "ts": "1970-01-01T08:00:00+08:00"}, 1).ts_s == 0
    assert parse_event({**raw, "ts": "9999-12-31T23:59:59Z"}, 1).ts_s == 253_402_300_799


# A7: parameters range-checked; the cycle search is iterative


@pytest.mark.parametrize(
    "bad",
    [
        "cycle.hop_max_pct=0",
        "cycle.hop_min_pct=0",
        "cycle.max_length=0",
        "cycle.max_length=2",
        "structuring.band_low_pct=0",
        "fan_out.min_counterparties=1",
        "dormant_reactivation.quiet_days=0",
        "pass_through.window_h=0",
        "cycle.max_steps=0",
        "payroll.cycle_min_days=400",
        "alert_cooldown_h=99999999",
    ],
)
def test_parameters_out_of_range_are_refused(bad):
    with pytest.raises(InvalidInput, match=r"from .* to"):
        AmlParams().with_overrides([bad])


def test_inconsistent_parameter_pair_is_refused():
    AmlParams().with_overrides(["cycle.hop_min_pct=100", "cycle.hop_max_pct=100"])
    with pytest.raises(InvalidInput, match=r"must not exceed payroll\.cycle_max_days"):
        AmlParams().with_overrides(["payroll.cycle_min_days=50"])


def test_bad_parameter_exits_2_with_its_range(tmp_path, capsys):
    path = tmp_path / "e.jsonl"
    path.write_bytes(jsonl([ev(0, "topup", 10, "a")]))
    assert main(["aml", "scan", str(path), "--param", "cycle.hop_max_pct=0"]) == 2
    assert "cycle.hop_max_pct must be a whole number from 100 to 1,000" in capsys.readouterr().err


def test_a_1201_hop_ring_is_found_without_recursion():
    n = 1_201
    ring = [ev(i * 0.1, "transfer", 20_000, f"a{i}", f"a{(i + 1) % n}") for i in range(n)]
    params = AmlParams().with_overrides(["cycle.max_length=5000", "cycle.max_steps=100000"])
    (alert,) = [a for a in run(ring, Monitor(params)) if a.scenario == "cycle"]
    assert len(alert.accounts) == n and len(alert.transactions) == n


# D1-D3: salary payers recognised by behaviour


def _payroll(staff: int, months: int, pay_days: tuple[int, ...] = (1, 15)) -> list[dict]:
    """A top-up then one transfer per employee, 2 s apart, on each pay day."""
    salaries = [6_000 + (i * 7_919) % 5_000 for i in range(staff)]
    flow: list[dict] = []
    for month in range(months):
        for day in pay_days:
            start = (month * 31 + day) * 24.0 + 8
            flow.append(ev(start, "topup", sum(salaries), "employer"))
            flow += [
                ev(start + 1 + i * 2 / 3600, "transfer", pay, "employer", f"staff{i}")
                for i, pay in enumerate(salaries)
            ]
    return flow


def test_payroll_is_not_fan_out_dormant_or_large_value_after_the_first_run():
    alerts = run(_payroll(2_000, 3))
    assert "fan_out" not in scenarios(alerts), "a 2,000-salary run is one payroll file"
    assert "dormant_reactivation" not in scenarios(alerts), "16-17 days between pay days"
    lv = [a for a in alerts if a.scenario == "large_value"]
    # only the very first funding top-up, before anything recurred, is a suspicion
    assert len(lv) == 1 and lv[0].ts_s == min(a.ts_s for a in lv)


def test_payroll_payer_is_remembered_and_its_other_flows_still_watched():
    monitor = Monitor()
    run(_payroll(30, 2, (10, 25)), monitor)
    assert "employer" in monitor.ctx.payroll.payers
    # a slow fan-out to new accounts from the payroll payer is not a pay run
    later = [ev(24 * 70 + 3 * i, "transfer", 6_000, "employer", f"mule{i}") for i in range(10)]
    assert "fan_out" in scenarios(run(later, monitor))


def test_one_off_big_fan_is_not_payroll():
    fan = [ev(i * 2, "transfer", 9_000, "boss", f"r{i}") for i in range(12)]
    assert "fan_out" in scenarios(run(fan))


# D4: output independent of PYTHONHASHSEED

_SCAN = "import sys; from rongpay.cli import main; sys.exit(main(['aml', 'scan', sys.argv[1]]))"


def test_scan_output_does_not_depend_on_the_hash_seed(tmp_path):
    flow = [
        ev(0, "payment", 50, "d1", "shop", mcc="5411"),
        ev(0, "payment", 50, "d2", "shop", mcc="5411"),
        ev(24 * 20, "transfer", 150_000, "d1", "d2"),  # both accounts wake up at once
    ]
    path = tmp_path / "e.jsonl"
    path.write_bytes(jsonl(flow))
    outs = []
    for seed in ("0", "1", "2", "3", "4", "5"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _SCAN, str(path)], env=env, capture_output=True, check=True
        )
        outs.append(done.stdout)
    assert outs[0].count(b"dormant_reactivation") == 2
    assert all(out == outs[0] for out in outs)


# D5: an alert held back by the cooldown keeps its transactions


def test_alert_within_the_cooldown_follows_the_first_with_its_transactions():
    flow = [
        ev(0, "topup", 48_500, "a"),
        ev(1, "topup", 46_000, "a"),
        ev(5, "topup", 48_000, "a"),
        ev(6, "topup", 47_000, "a"),
    ]
    first, second = [a for a in run(flow) if a.scenario == "structuring"]
    assert first.follows is None and second.follows == first.alert_id
    assert len(first.transactions) == 2 and len(second.transactions) == 2
    assert set(first.transactions).isdisjoint(second.transactions)
    assert second.to_json()["follows"] == first.alert_id
