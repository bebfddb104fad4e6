"""Ledger use cases on both engines: what is committed is what the balances say."""

import time

import pytest

from rongpay.ledger import check, service
from rongpay.ledger.errors import BatchTooLarge
from rongpay.ledger.types import MAX_BATCH

from .factories import acct, balances, post, setup_accounts, submit, void, xfer


@pytest.fixture
def ledger(engine):
    setup_accounts(
        engine,
        acct("bank", "USD", "nostro"),
        acct("alice", "USD", "customer_wallet", "debits_must_not_exceed_credits", "history"),
        acct("shop", "USD", "merchant_balance"),
        acct("eur", "EUR", "customer_wallet"),
    )
    assert submit(engine, xfer("fund", "bank", "alice", 10_000)) == ["ok"]
    return engine


def assert_checks(engine):
    report = check.check(engine)
    assert report.ok, report.as_dict()


def test_accounts_replay_and_conflict(engine):
    raws = [acct(1, "USD", "w"), acct(2, "JPY", "w", "history")]
    assert service.create_accounts(engine, raws) == ["ok", "ok"]
    assert service.create_accounts(engine, raws) == ["exists", "exists"]
    assert service.create_accounts(engine, [acct(1, "EUR", "w")]) == [
        "exists_with_different_fields"
    ]
    assert service.create_accounts(
        engine, [acct(3, "USD", "w", "linked"), acct(4, "XXX", "w")]
    ) == ["linked_event_failed", "ledger_invalid"]
    assert service.get_account(engine, "3") is None


def test_payment_with_hold_capture_and_refund(ledger):
    results = submit(
        ledger,
        xfer("auth", "alice", "shop", 3_000, "pending", timeout=60),
        post("capture", "auth", 2_500),
        xfer("refund", "shop", "alice", 500),
    )
    assert results == ["ok", "ok", "ok"]
    assert balances(ledger, "alice") == (0, 2_500, 0, 10_500)
    assert balances(ledger, "shop") == (0, 500, 0, 2_500)
    assert service.pending_state(ledger, "auth") == "posted"
    assert_checks(ledger)


def test_replay_across_batches_is_idempotent(ledger):
    raw = xfer("p1", "alice", "shop", 100, user_data="pi_123")
    assert submit(ledger, raw) == ["ok"]
    assert submit(ledger, raw) == ["exists"]
    assert submit(ledger, {**raw, "amount": 101}) == ["exists_with_different_fields"]
    assert submit(ledger, {**raw, "user_data": "pi_999"}) == ["exists_with_different_fields"]
    assert balances(ledger, "alice")[1] == 100


def test_overdraft_refused_and_batch_judged_item_by_item(ledger):
    results = submit(
        ledger,
        xfer("big", "alice", "shop", 10_001),
        xfer("ok1", "alice", "shop", 4_000),
        xfer("x", "alice", "eur", 1),
        xfer("ok2", "alice", "shop", 6_000),
        xfer("over", "alice", "shop", 1),
    )
    assert results == [
        "exceeds_credits",
        "ok",
        "accounts_must_have_same_ledger",
        "ok",
        "exceeds_credits",
    ]
    assert balances(ledger, "alice") == (0, 10_000, 0, 10_000)
    assert_checks(ledger)


def test_linked_chain_across_the_database(ledger):
    results = submit(
        ledger,
        xfer("l1", "alice", "shop", 6_000, "linked"),
        xfer("l2", "alice", "shop", 6_000),
    )
    assert results == ["linked_event_failed", "exceeds_credits"]
    assert service.get_transfer(ledger, "l1") is None
    assert balances(ledger, "alice") == (0, 0, 0, 10_000)


def test_pending_expires_and_releases(ledger):
    assert submit(ledger, xfer("hold", "alice", "shop", 9_000, "pending", timeout=1)) == ["ok"]
    assert submit(ledger, xfer("blocked", "alice", "shop", 2_000)) == ["exceeds_credits"]
    time.sleep(1.1)
    assert service.pending_state(ledger, "hold") == "expired"
    # The next write releases it, then judges the batch.
    assert submit(ledger, post("late", "hold"), xfer("now", "alice", "shop", 2_000)) == [
        "pending_transfer_expired",
        "ok",
    ]
    assert balances(ledger, "alice") == (0, 2_000, 0, 10_000)
    assert_checks(ledger)


def test_expire_command_releases(ledger):
    submit(ledger, xfer("h", "alice", "shop", 100, "pending", timeout=1))
    assert service.expire(ledger) == 0
    time.sleep(1.1)
    assert service.expire(ledger) == 1
    assert balances(ledger, "alice") == (0, 0, 0, 10_000)
    assert submit(ledger, void("v", "h")) == ["pending_transfer_expired"]


def test_history_balance_at_past_time(ledger):
    t0 = time.time_ns()
    submit(ledger, xfer("a1", "alice", "shop", 1_000))
    t1 = time.time_ns()
    submit(ledger, xfer("a2", "alice", "shop", 2_000))
    before = service.balance_at(ledger, "alice", t0)
    middle = service.balance_at(ledger, "alice", t1)
    assert before is not None and before.debits_posted == 0 and before.credits_posted == 10_000
    assert middle is not None and middle.debits_posted == 1_000
    assert service.balance_at(ledger, "alice", 0) is None


def test_statement_running_balance_and_pagination(ledger):
    for i in range(5):
        submit(ledger, xfer(f"s{i}", "alice", "shop", 100 * (i + 1)))
    first = service.statement(ledger, "alice", limit=3)
    assert [e.transfer.id for e in first] == ["fund", "s0", "s1"]
    assert [e.debits_posted for e in first] == [0, 100, 300]
    rest = service.statement(ledger, "alice", after=first[-1].transfer.timestamp, limit=10)
    assert [e.transfer.id for e in rest] == ["s2", "s3", "s4"]
    assert [e.debits_posted for e in rest] == [600, 1_000, 1_500]
    assert all(e.credits_posted == 10_000 for e in rest)
    newest = service.statement(ledger, "alice", limit=2, reverse=True)
    assert [e.transfer.id for e in newest] == ["s4", "s3"]


def test_batch_limit():
    with pytest.raises(BatchTooLarge):
        service.parse_transfers([{}] * (MAX_BATCH + 1))


def test_full_batch_in_one_transaction(ledger):
    raws = [xfer(f"b{i}", "bank", "shop", 1) for i in range(MAX_BATCH)]
    assert set(submit(ledger, *raws)) == {"ok"}
    assert balances(ledger, "shop")[3] == MAX_BATCH
    assert_checks(ledger)


def test_transfers_are_immutable_in_the_database(ledger):
    import sqlalchemy as sa

    with pytest.raises(sa.exc.DBAPIError), ledger.begin() as conn:
        conn.exec_driver_sql("UPDATE ledger_transfers SET amount = 1")
    with pytest.raises(sa.exc.DBAPIError), ledger.begin() as conn:
        conn.exec_driver_sql("DELETE FROM ledger_transfers")
    assert balances(ledger, "alice") == (0, 0, 0, 10_000)
