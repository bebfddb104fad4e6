"""Each AML scenario on hand-built flows that must and must not alert."""

from __future__ import annotations

import pytest

from rongpay.compliance.aml_engine import Monitor
from rongpay.compliance.aml_params import AmlParams, RiskRating
from rongpay.compliance.errors import InvalidInput

from .factories import ev, run, scenarios


def test_structuring_two_topups_just_under_threshold_alert():
    alerts = run([ev(0, "topup", 48_500, "a"), ev(20, "topup", 46_000, "a")])
    (alert,) = [a for a in alerts if a.scenario == "structuring"]
    assert alert.accounts == ("a",) and len(alert.transactions) == 2
    assert "threshold" in alert.summary and 0 < alert.score <= 1


@pytest.mark.parametrize(
    ("flow", "why"),
    [
        ([ev(0, "topup", 48_500, "a"), ev(100, "topup", 46_000, "a")], "outside the 72 h window"),
        ([ev(0, "topup", 30_000, "a"), ev(1, "topup", 30_000, "a")], "below the band"),
        ([ev(0, "topup", 52_000, "a"), ev(1, "topup", 51_000, "a")], "above: reported anyway"),
        ([ev(0, "topup", 48_500, "a"), ev(1, "topup", 46_000, "b")], "two customers"),
    ],
)
def test_structuring_must_not_alert(flow, why):
    assert "structuring" not in scenarios(run(flow)), why


def test_structuring_converts_currencies():
    # 6,800 USD ~ 48,280 CNY: in the band
    flow = [ev(0, "topup", 6_800, "a", currency="USD"), ev(5, "topup", 6_700, "a", currency="USD")]
    assert "structuring" in scenarios(run(flow))


def test_high_risk_rating_tightens_thresholds():
    flow = [ev(0, "topup", 24_000, "a"), ev(5, "topup", 23_000, "a")]
    assert "structuring" not in scenarios(run(flow))
    monitor = Monitor(ratings={"a": RiskRating.HIGH})
    assert "structuring" in scenarios(run(flow, monitor))


def _fan_in(receiver: str, senders: int, yuan: int, spread_h: float) -> list[dict]:
    step = spread_h / senders
    return [ev(i * step, "transfer", yuan, f"s{i}", receiver) for i in range(senders)]


def test_fan_in_many_senders_alert():
    alerts = run(_fan_in("mule", 12, 5_000, 48))
    (alert,) = [a for a in alerts if a.scenario == "fan_in"]
    assert alert.accounts[0] == "mule" and len(alert.transactions) >= 8


def test_fan_in_merchant_and_small_amounts_do_not_alert():
    shop = [ev(-10 - i, "payment", 30, f"c{i}", "shop", mcc="5411") for i in range(5)]
    assert "fan_in" not in scenarios(run(shop + _fan_in("shop", 12, 5_000, 48)))
    assert "fan_in" not in scenarios(run(_fan_in("friend", 12, 200, 48))), "gift money"
    assert "fan_in" not in scenarios(run(_fan_in("slow", 12, 5_000, 400))), "over weeks"


def _fan_out(payer: str, receivers: int, yuan: int, spread_h: float, start: float = 0):
    step = spread_h / receivers
    return [ev(start + i * step, "transfer", yuan, payer, f"r{i}") for i in range(receivers)]


def test_fan_out_spread_over_hours_alerts():
    flow = [ev(-2, "transfer", 60_000, "boss", "dist"), *_fan_out("dist", 10, 5_500, 20)]
    assert "fan_out" in scenarios(run(flow))


def test_payroll_batches_and_recurring_payees_do_not_alert():
    batch = _fan_out("employer", 30, 8_000, 0.2)
    assert "fan_out" not in scenarios(run(batch)), "one payroll file"
    monthly = _fan_out("employer", 10, 8_000, 10) + _fan_out("employer", 10, 8_000, 10, 24 * 30)
    alerts = run(monthly, Monitor(AmlParams().with_overrides(["fan_out.batch_gap_s=0"])))
    assert sum(a.scenario == "fan_out" for a in alerts) <= 1, "second month pays known payees"


def test_pass_through_in_and_out_within_hours():
    flow = [ev(0, "transfer", 200_000, "x", "mule"), ev(3, "withdrawal", 190_000, "mule")]
    (alert,) = [a for a in run(flow) if a.scenario == "pass_through"]
    assert alert.accounts == ("mule",) and len(alert.transactions) == 2


@pytest.mark.parametrize(
    ("flow", "why"),
    [
        ([ev(0, "transfer", 200_000, "x", "m"), ev(100, "withdrawal", 190_000, "m")], "days later"),
        ([ev(0, "transfer", 200_000, "x", "m"), ev(3, "withdrawal", 50_000, "m")], "keeps most"),
        ([ev(0, "topup", 200_000, "m"), ev(1, "transfer", 199_000, "m", "y")], "own top-up"),
        ([ev(0, "transfer", 20_000, "x", "m"), ev(3, "withdrawal", 19_000, "m")], "salary size"),
    ],
)
def test_pass_through_must_not_alert(flow, why):
    assert "pass_through" not in scenarios(run(flow)), why


def test_cycle_through_three_accounts():
    flow = [
        ev(0, "transfer", 80_000, "a", "b"),
        ev(5, "transfer", 79_000, "b", "c"),
        ev(9, "transfer", 78_000, "c", "a"),
    ]
    (alert,) = [a for a in run(flow) if a.scenario == "cycle"]
    assert set(alert.accounts) == {"a", "b", "c"} and len(alert.transactions) == 3
    assert "a -> b -> c -> a" in alert.summary


@pytest.mark.parametrize(
    ("flow", "why"),
    [
        ([ev(0, "transfer", 80_000, "a", "b"), ev(5, "transfer", 80_000, "b", "a")], "loan repaid"),
        (
            [
                ev(5, "transfer", 80_000, "a", "b"),
                ev(0, "transfer", 79_000, "b", "c"),
                ev(9, "transfer", 78_000, "c", "a"),
            ],
            "not in time order",
        ),
        (
            [
                ev(0, "transfer", 80_000, "a", "b"),
                ev(5, "transfer", 20_000, "b", "c"),
                ev(9, "transfer", 19_000, "c", "a"),
            ],
            "amounts do not follow",
        ),
        (
            [
                ev(0, "transfer", 80_000, "a", "b"),
                ev(100, "transfer", 79_000, "b", "c"),
                ev(200, "transfer", 78_000, "c", "a"),
            ],
            "over more than a week",
        ),
    ],
)
def test_cycle_must_not_alert(flow, why):
    assert "cycle" not in scenarios(run(flow)), why


def test_dormant_account_reactivated():
    flow = [
        ev(0, "payment", 50, "d", "shop", mcc="5411"),
        ev(24 * 20, "transfer", 90_000, "x", "d"),
        ev(24 * 20 + 5, "withdrawal", 85_000, "d"),
    ]
    assert "dormant_reactivation" in scenarios(run(flow))


def test_busy_or_new_accounts_are_not_dormant():
    busy = [ev(h * 24, "transfer", 20_000, "x", "d") for h in range(20)]
    busy.append(ev(24 * 20 + 5, "transfer", 120_000, "d", "y"))
    assert "dormant_reactivation" not in scenarios(run(busy)), "always active"
    new = [ev(0, "transfer", 90_000, "x", "n"), ev(5, "withdrawal", 85_000, "n")]
    assert "dormant_reactivation" not in scenarios(run(new)), "a new account has no history"


def test_high_risk_geography():
    black = [ev(0, "transfer", 3_000, "a", "b", payee_country="KP")]
    assert "high_risk_geo" in scenarios(run(black)), "call for action: any amount"
    grey_small = [ev(0, "transfer", 3_000, "a", "b", payee_country="VN")]
    assert "high_risk_geo" not in scenarios(run(grey_small))
    grey = [ev(h, "transfer", 20_000, "a", "b", payee_country="VN") for h in range(3)]
    assert "high_risk_geo" in scenarios(run(grey)), "monitored: total over the limit"
    domestic = [ev(0, "transfer", 3_000, "a", "b", payer_country="IR", payee_country="IR")]
    assert "high_risk_geo" not in scenarios(run(domestic)), "not cross-border"


def test_large_value_alert_and_cooldown():
    alerts = run([ev(0, "transfer", 1_200_000, "a", "b"), ev(1, "transfer", 1_500_000, "a", "c")])
    first, second = [a for a in alerts if a.scenario == "large_value"]
    assert first.follows is None, "one alert per subject per 24 h ..."
    assert second.follows == first.alert_id, "... the next one follows it, transactions kept"
    later = run([ev(0, "transfer", 1_200_000, "a", "b"), ev(30, "transfer", 1_500_000, "a", "c")])
    assert [a.follows for a in later if a.scenario == "large_value"] == [None, None]


def test_alert_ids_are_stable():
    flow = [ev(0, "topup", 48_500, "a"), ev(20, "topup", 46_000, "a")]
    first = run(flow)[0]
    again = run([dict(e) for e in flow])[0]
    assert first.alert_id == again.alert_id and first.alert_id.startswith("aml_")


@pytest.mark.parametrize(
    "bad", ["cycle", "cycle.max_length", "nope.x=1", "cycle.nope=1", "cycle.max_length=-1"]
)
def test_bad_param_overrides(bad):
    with pytest.raises(InvalidInput):
        AmlParams().with_overrides([bad])


def test_disable_a_scenario():
    params = AmlParams().with_overrides(["structuring.enabled=false"])
    flow = [ev(0, "topup", 48_500, "a"), ev(20, "topup", 46_000, "a")]
    assert "structuring" not in scenarios(run(flow, Monitor(params)))
