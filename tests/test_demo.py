"""The demo data: seeded through the ledger service, balanced, idempotent, telling its story."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.engine import Engine

from rongpay import demo
from rongpay.ledger import service
from rongpay.ledger.types import A_DEBITS_LIMIT, A_HISTORY, PendingState


def test_seed_twice_changes_nothing(engine: Engine) -> None:
    first = demo.seed(engine)
    assert first.fresh
    assert first.accounts_created == len(demo.accounts()) >= 20
    assert first.transfers_created == len(demo.transfers()) >= 30
    before = {a["id"]: service.get_account(engine, a["id"]) for a in demo.accounts()}
    second = demo.seed(engine)
    assert not second.fresh
    assert second.accounts_existing == first.accounts_created
    assert second.transfers_existing == first.transfers_created
    after = {a["id"]: service.get_account(engine, a["id"]) for a in demo.accounts()}
    assert before == after


def test_demo_ledgers_balance_and_limits_hold(engine: Engine) -> None:
    demo.seed(engine)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    ledgers, flagged, history = set(), 0, 0
    for raw in demo.accounts():
        a = service.get_account(engine, raw["id"])
        assert a is not None
        ledgers.add(a.ledger)
        totals[a.ledger][0] += a.debits_posted
        totals[a.ledger][1] += a.credits_posted
        if a.flags & A_DEBITS_LIMIT:
            flagged += 1
            assert a.debits_posted + a.debits_pending <= a.credits_posted
        history += bool(a.flags & A_HISTORY)
    assert {"USD", "EUR", "CNY", "JPY"} <= ledgers
    assert flagged >= 8 and history >= 4
    assert all(d == c > 0 for d, c in totals.values()), totals


def test_demo_story(engine: Engine) -> None:
    demo.seed(engine)
    assert service.pending_state(engine, "demo_auth_captured") is PendingState.posted
    assert service.pending_state(engine, "demo_auth_voided") is PendingState.voided
    assert service.pending_state(engine, "demo_auth_held") is PendingState.pending
    capture = service.get_transfer(engine, "demo_capture")
    assert capture is not None and capture.amount == 5400  # a partial capture of 60.00
    usd, eur = (service.get_transfer(engine, t) for t in ("demo_fx_usd_leg", "demo_fx_eur_leg"))
    assert usd is not None and eur is not None
    assert (usd.ledger, eur.ledger) == ("USD", "EUR") and usd.user_data == eur.user_data
    fees = service.get_account(engine, "fees_jpy")
    assert fees is not None and fees.credits_posted > 0
