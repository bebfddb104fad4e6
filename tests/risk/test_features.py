"""Features against hand-computed windows, and the no-look-ahead property."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

from rongpay.risk.event import Event
from rongpay.risk.features import FEATURES, INDEX, FeatureState, StateLimits

Ev = Callable[..., Event]


def feat(x: list[float], name: str) -> float:
    return x[INDEX[name]]


def test_vector_length_matches_names(ev: Ev) -> None:
    st = FeatureState()
    assert len(st.observe(ev(t=0))) == len(FEATURES)
    assert len(st.observe(ev(t=1, payer="acct_new", device_id=None, ip=None))) == len(FEATURES)


def test_payer_windows_hand_computed(ev: Ev) -> None:
    st = FeatureState()
    # payer acct_a pays at t = 0, 300, 3000, 50000 (seconds); amounts 100, 5, 200, 300 CNY
    times = [(0, 10_000), (300, 500), (3000, 20_000), (50_000, 30_000)]
    for t, amount in times:
        st.observe(ev(t=t, amount_minor=amount, payee=f"m{t % 7}"))
    x = st.observe(ev(t=50_400, amount_minor=100, payee="m_new"))
    # strictly inside the window ending at 50,400: 10m -> {50000}; 1h -> {50000};
    # 24h -> all four; payees seen in 24h: m0, m6, m4, m6 -> 3 distinct
    assert feat(x, "payer_cnt_10m") == 1
    assert feat(x, "payer_cnt_1h") == 1
    assert feat(x, "payer_cnt_24h") == 4
    assert feat(x, "payer_cnt_7d") == 4
    assert math.isclose(feat(x, "payer_sum_1h_log"), math.log1p(300.0))
    assert math.isclose(feat(x, "payer_sum_24h_log"), math.log1p(100 + 5 + 200 + 300))
    assert feat(x, "payer_small_cnt_1h") == 0  # the 5 CNY payment was ~13.9 h ago
    assert feat(x, "payer_distinct_payees_24h") == 3
    assert math.isclose(feat(x, "payer_secs_since_last_log"), math.log1p(400.0))
    assert feat(x, "new_payee_for_payer") == 1 and feat(x, "new_device_for_payer") == 0
    assert math.isclose(feat(x, "payer_age_days"), 50_400 / 86_400)


def test_windows_expire(ev: Ev) -> None:
    st = FeatureState()
    st.observe(ev(t=0))
    x = st.observe(ev(t=7 * 86_400 + 1))
    assert feat(x, "payer_cnt_7d") == 0 and feat(x, "payer_cnt_24h") == 0
    assert feat(x, "payer_n_events_log") == math.log1p(1)  # the profile remembers


def test_device_and_ip_shared_by_payers(ev: Ev) -> None:
    st = FeatureState()
    for i in range(5):
        st.observe(ev(t=i * 60, payer=f"p{i}", device_id="dev_farm", ip="9.9.9.9"))
    x = st.observe(ev(t=400, payer="p9", device_id="dev_farm", ip="9.9.9.9"))
    assert feat(x, "device_distinct_payers_24h") == 5
    assert feat(x, "device_cnt_1h") == 5
    assert feat(x, "ip_distinct_payers_24h") == 5
    assert feat(x, "new_device_for_payer") == 1


def test_payee_inflow(ev: Ev) -> None:
    st = FeatureState()
    for i in range(3):
        st.observe(ev(t=i, payer=f"p{i}", payee="mule", type="transfer", amount_minor=100_000))
    x = st.observe(ev(t=10, payer="p9", payee="mule", type="transfer"))
    assert feat(x, "payee_cnt_10m") == 3
    assert feat(x, "payee_distinct_payers_24h") == 3
    assert math.isclose(feat(x, "payee_in_sum_24h_log"), math.log1p(3000.0))


def test_amount_against_profile(ev: Ev) -> None:
    st = FeatureState()
    for i in range(10):
        st.observe(ev(t=i * 3600, amount_minor=10_000))
    x = st.observe(ev(t=40_000, amount_minor=1_000_000))
    assert feat(x, "amount_z") > 5 and feat(x, "amount_vs_max_log") > 4


def test_currency_amounts_are_comparable(ev: Ev) -> None:
    st = FeatureState()
    a = st.observe(ev(t=0, amount_minor=720, currency="CNY", payer="x1"))
    b = st.observe(ev(t=1, amount_minor=100, currency="USD", payer="x2"))
    c = st.observe(ev(t=2, amount_minor=150, currency="JPY", payer="x3"))  # exponent 0
    assert math.isclose(feat(a, "amount_log"), feat(b, "amount_log"))
    assert math.isclose(feat(c, "amount_log"), math.log1p(150 * 0.048))


def test_no_look_ahead(sim_file: Path) -> None:
    """Shuffling and rewriting the future changes no past feature vector."""
    from rongpay.risk.event import read_events

    events = [e for _n, e in read_events(sim_file) if isinstance(e, Event)][:3000]
    cut = 2000
    first = FeatureState()
    past = [first.observe(e) for e in events[:cut]]
    rng = random.Random(5)
    future = events[cut:]
    rng.shuffle(future)
    other = FeatureState()
    got = [other.observe(e) for e in events[:cut]]
    for e in future:
        other.observe(e)
    assert got == past


def test_sweep_bounds_entities(ev: Ev) -> None:
    st = FeatureState(StateLimits(max_accounts=10, max_endpoints=10, sweep_every=50))
    for i in range(200):
        st.observe(ev(t=i, payer=f"p{i}", payee=f"q{i}", device_id=f"d{i}", ip=f"i{i}"))
    assert len(st.accounts) <= 10 + 2 * 50
    assert len(st.devices) <= 10 + 50
