"""Decisions: precedence of lists, rules and model; bulk equals one-by-one; no look-ahead."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from rongpay.risk.decision import Action
from rongpay.risk.engine import RiskEngine, action_for
from rongpay.risk.event import Event, read_events
from rongpay.risk.lists import Entry, Kind, ListName, Lists
from rongpay.risk.model import Model, Thresholds
from rongpay.risk.rules import parse_rules

Ev = Callable[..., Event]


def events_of(path: Path, n: int) -> list[Event]:
    return [e for _l, e in read_events(path) if isinstance(e, Event)][:n]


def test_thresholds() -> None:
    t = Thresholds(0.3, 0.6, 0.9)
    assert [action_for(s, t) for s in (0.1, 0.3, 0.7, 0.95)] == [
        Action.ALLOW, Action.REVIEW, Action.CHALLENGE, Action.BLOCK,
    ]  # fmt: skip


def test_block_list_beats_allow_list_and_rules(ev: Ev) -> None:
    lists = Lists([
        Entry(ListName.BLOCK, Kind.IP, "6.6.6.6"),
        Entry(ListName.ALLOW, Kind.ACCOUNT, "acct_vip"),
    ])  # fmt: skip
    rules = parse_rules("version 1\nrule ok: amount_cny > 0 => allow")
    engine = RiskEngine(None, rules, lists)
    d = engine.decide(ev(t=0, payer="acct_vip", ip="6.6.6.6"))
    assert d.decision is Action.BLOCK and d.reasons == ("list:block:ip",) and d.score == 1.0
    d = engine.decide(ev(t=1, payer="acct_vip"))
    assert d.decision is Action.ALLOW and d.reasons == ("list:allow:account",)


def test_most_severe_live_rule_wins_and_shadow_never_acts(ev: Ev) -> None:
    rules = parse_rules(
        "version 2\n"
        "rule r1: amount_cny > 10 => review\n"
        "rule r2: amount_cny > 50 => challenge\n"
        "shadow rule s1: amount_cny > 1 => block\n"
    )
    d = RiskEngine(None, rules).decide(ev(amount_minor=10_000))
    assert d.decision is Action.CHALLENGE
    assert d.reasons == ("rule:r1", "rule:r2") and d.shadow == ("s1",)
    assert d.score == 2 / 3


def test_allow_rule_overrides_model(ev: Ev) -> None:
    model = Model.load()
    strict = parse_rules("version 1\nthreshold default review 0 challenge 0 block 0")
    assert RiskEngine(model, strict).decide(ev()).decision is Action.BLOCK
    allow = parse_rules(
        "version 1\nthreshold default review 0 challenge 0 block 0\n"
        'rule trusted: payer == "acct_a" => allow'
    )
    d = RiskEngine(model, allow).decide(ev())
    assert d.decision is Action.ALLOW and d.reasons == ("rule:trusted",)


def test_per_merchant_thresholds(ev: Ev) -> None:
    model = Model.load()
    rules = parse_rules(
        'version 1\nthreshold merchant "acct_strict" review 0 challenge 0 block 0\n'
    )
    engine = RiskEngine(model, rules)
    assert engine.decide(ev(t=0, payee="acct_strict")).decision is Action.BLOCK
    assert engine.decide(ev(t=1, payee="acct_easy")).decision is Action.ALLOW


def test_flagged_decisions_carry_model_reasons(sim_file: Path) -> None:
    engine = RiskEngine(Model.load())
    flagged = [d for d in engine.decide_many(events_of(sim_file, 20_000)) if d.decision != "allow"]
    assert flagged
    assert all(d.reasons for d in flagged)


def test_bulk_equals_one_by_one(sim_file: Path) -> None:
    events = events_of(sim_file, 3000)
    one = RiskEngine(Model.load())
    bulk = RiskEngine(Model.load())
    singles = [one.decide(e) for e in events]
    many = bulk.decide_many(events)
    assert [d.decision for d in singles] == [d.decision for d in many]
    assert [d.reasons for d in singles] == [d.reasons for d in many]
    assert max(abs(a.score - b.score) for a, b in zip(singles, many, strict=True)) < 1e-9


def test_changing_the_future_changes_no_past_score(sim_file: Path) -> None:
    events = events_of(sim_file, 4000)
    cut = 2500
    base = RiskEngine(Model.load()).decide_many(events)
    future = events[cut:]
    random.Random(1).shuffle(future)
    # and rewrite it: other amounts, other payees
    future = [
        Event(**{**{s: getattr(e, s) for s in Event.__slots__}, "amount_minor": 1, "payee": "x"})
        for e in future
    ]
    other = RiskEngine(Model.load()).decide_many(events[:cut] + future)
    assert other[:cut] == base[:cut]


def test_threads_share_one_engine(ev: Ev, tmp_path: Path) -> None:
    import threading

    from rongpay.risk.snapshot import load_state

    engine = RiskEngine(Model.load())
    per_thread = 200

    def pay(k: int) -> None:
        for i in range(per_thread):
            engine.decide(ev(t=i, id=f"{k}-{i}", payer="acct_shared", payee=f"m{k}"))

    threads = [threading.Thread(target=pay, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert engine.state.accounts["acct_shared"].n == 4 * per_thread
    engine.save(tmp_path / "s.json")
    assert load_state(tmp_path / "s.json").accounts["acct_shared"].n == 4 * per_thread
