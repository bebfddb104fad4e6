"""`ledger check` notices every kind of damage, even by someone who drops the triggers."""

import pytest
import sqlalchemy as sa

from rongpay.ledger import check

from .factories import acct, setup_accounts, submit, xfer


@pytest.fixture
def ledger(engine):
    setup_accounts(engine, acct("a", "USD", "w", "debits_must_not_exceed_credits"), acct("b"))
    submit(engine, xfer(1, "b", "a", 100), xfer(2, "a", "b", 40), xfer(3, "a", "b", 10, "pending"))
    assert check.check(engine).ok
    return engine


def broken(engine):
    return {i.name for i in check.check(engine).invariants if not i.ok}


def _drop_triggers(conn):
    if conn.dialect.name == "sqlite":
        for name in ("ledger_transfers_no_update", "ledger_transfers_no_delete"):
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
    else:
        conn.exec_driver_sql("DROP TRIGGER ledger_transfers_immutable ON ledger_transfers")


def test_edited_transfer_is_detected(ledger):
    with ledger.begin() as conn:
        _drop_triggers(conn)
        conn.exec_driver_sql("UPDATE ledger_transfers SET amount = 41 WHERE id = '2'")
    assert {"transfers_unchanged", "balances_match_transfers"} <= broken(ledger)


def test_deleted_transfer_is_detected(ledger):
    with ledger.begin() as conn:
        _drop_triggers(conn)
        conn.exec_driver_sql("DELETE FROM ledger_transfers WHERE id = '2'")
    assert "transfers_unchanged" in broken(ledger)


def test_balance_tampering_is_detected(ledger):
    with ledger.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_accounts SET credits_posted = 1000 WHERE id = 'a'"))
    assert broken(ledger) == {"debits_equal_credits", "balances_match_transfers"}


def test_limit_breach_is_detected(ledger):
    with ledger.begin() as conn:
        conn.execute(sa.text("UPDATE ledger_accounts SET debits_posted = 500 WHERE id = 'a'"))
        conn.execute(sa.text("UPDATE ledger_accounts SET credits_posted = 500 WHERE id = 'b'"))
    assert {"limits_respected", "balances_match_transfers"} <= broken(ledger)
