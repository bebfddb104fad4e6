"""The pure batch engine: scenarios as tables, then balances."""

from rongpay.ledger import batch
from rongpay.ledger.parse import parse_transfer
from rongpay.ledger.types import A_DEBITS_LIMIT, A_HISTORY

from .factories import post, void, xfer


def state(**accounts):
    """accounts: id -> (flags, credits_posted) on ledger USD."""
    return batch.BatchState(
        {aid: ["USD", flags, 0, 0, 0, credits] for aid, (flags, credits) in accounts.items()},
        {},
        {},
    )


def run(st, *raws, clock=1000):
    writes = batch.BatchWrites()
    results = batch.apply_transfers([parse_transfer(r) for r in raws], st, writes, [clock])
    return [str(r) for r in results], writes


def test_linked_chain_fails_whole_and_rolls_back():
    st = state(a=(A_DEBITS_LIMIT, 100), b=(0, 0), c=(0, 0))
    results, writes = run(
        st,
        xfer(1, "a", "b", 60, "linked"),
        xfer(2, "b", "c", 60, "linked"),
        xfer(3, "a", "c", 60),  # a has only 40 left: the chain fails here
        xfer(4, "a", "b", 10),
    )
    assert results == ["linked_event_failed", "linked_event_failed", "exceeds_credits", "ok"]
    assert [r[0] for r in writes.transfers] == ["4"]
    assert st.accounts["a"][2:] == [0, 10, 0, 100]
    assert st.accounts["c"][2:] == [0, 0, 0, 0]


def test_open_chain_at_end_of_batch_fails():
    st = state(a=(0, 0), b=(0, 0))
    results, _ = run(st, xfer(1, "a", "b", 5), xfer(2, "a", "b", 5, "linked"))
    assert results == ["ok", "linked_event_chain_open"]
    assert st.accounts["a"][3] == 5
    results, _ = run(st, xfer(3, "a", "b", 5, "linked"), xfer(4, "a", "b", 5, "linked"))
    assert results == ["linked_event_failed", "linked_event_chain_open"]


def test_chain_with_malformed_member_fails_whole():
    st = state(a=(0, 0), b=(0, 0))
    results, writes = run(st, xfer(1, "a", "b", 5, "linked"), xfer(2, "a", "b", -5))
    assert results == ["linked_event_failed", "amount_invalid"]
    assert writes.transfers == [] and st.accounts["a"][3] == 0


def test_two_phase_partial_post_releases_the_rest():
    st = state(a=(A_DEBITS_LIMIT, 100), b=(0, 0))
    results, _ = run(
        st,
        xfer(1, "a", "b", 80, "pending"),
        xfer(2, "a", "b", 30),  # 80 reserved: only 20 available
        post(3, 1, 50),
        xfer(4, "a", "b", 50),  # 30 released by the partial post: 50 now available
        void(5, 1),
        post(6, 1),
    )
    assert results == [
        "ok",
        "exceeds_credits",
        "ok",
        "ok",
        "pending_transfer_already_posted",
        "pending_transfer_already_posted",
    ]
    assert st.accounts["a"][2:] == [0, 100, 0, 100]
    assert st.accounts["b"][2:] == [0, 0, 0, 100]


def test_void_restores_and_cannot_post_after():
    st = state(a=(A_DEBITS_LIMIT, 100), b=(0, 0))
    results, writes = run(st, xfer(1, "a", "b", 100, "pending"), void(2, 1), post(3, 1), void(4, 1))
    assert results == [
        "ok",
        "ok",
        "pending_transfer_already_voided",
        "pending_transfer_already_voided",
    ]
    assert st.accounts["a"][2:] == [0, 0, 0, 100]
    assert batch.resolved_pending(writes, st) == {"1": "voided"}


def test_post_checks_against_pending():
    st = state(a=(0, 0), b=(0, 0), c=(0, 0))
    results, _ = run(
        st,
        xfer(1, "a", "b", 10, "pending"),
        post(2, 1, 11),
        post(3, 1, debit_account_id="c"),
        post(4, 1, credit_account_id="c"),
        post(5, 1, ledger="EUR"),
        post(6, 1, code="other"),
        void(7, 1, amount=3),
        post(8, 99),
        post(9, 1, 10),
    )
    assert results == [
        "ok",
        "exceeds_pending_transfer_amount",
        "pending_transfer_has_different_debit_account_id",
        "pending_transfer_has_different_credit_account_id",
        "pending_transfer_has_different_ledger",
        "pending_transfer_has_different_code",
        "pending_transfer_has_different_amount",
        "pending_transfer_not_found",
        "ok",
    ]


def test_post_of_a_plain_transfer_is_not_pending():
    st = state(a=(0, 0), b=(0, 0))
    assert run(st, xfer(1, "a", "b", 10), post(2, 1))[0] == ["ok", "pending_transfer_not_pending"]


def test_expired_pending_cannot_be_posted():
    st = state(a=(0, 0), b=(0, 0))
    run(st, xfer(1, "a", "b", 10, "pending", timeout=1), clock=0)
    results, _ = run(st, post(2, 1), clock=2_000_000_000)
    assert results == ["pending_transfer_expired"]


def test_exists_and_exists_with_different_fields():
    st = state(a=(0, 0), b=(0, 0))
    results, writes = run(
        st,
        xfer(1, "a", "b", 10),
        xfer(1, "a", "b", 10),
        xfer(1, "a", "b", 11),
        xfer(1, "a", "b", 10, code="other"),
        xfer(1, "a", "b", 10, ledger="USD", code="transfer"),
    )
    assert results == [
        "ok",
        "exists",
        "exists_with_different_fields",
        "exists_with_different_fields",
        "exists",
    ]
    assert len(writes.transfers) == 1


def test_account_checks():
    st = state(a=(0, 0), b=(0, 0))
    st.accounts["e"] = ["EUR", 0, 0, 0, 0, 0]
    results, _ = run(
        st,
        xfer(1, "zz", "b", 1),
        xfer(2, "a", "zz", 1),
        xfer(3, "a", "e", 1),
        xfer(4, "a", "b", 1, ledger="EUR"),
    )
    assert results == [
        "debit_account_not_found",
        "credit_account_not_found",
        "accounts_must_have_same_ledger",
        "transfer_must_have_the_same_ledger_as_accounts",
    ]


def test_overflow_and_credit_limit():
    from rongpay.ledger.types import A_CREDITS_LIMIT

    st = state(a=(0, 0), b=(A_CREDITS_LIMIT, 0), c=(0, 0), d=(0, 0))
    st.accounts["b"][3] = 5  # b has 5 debits posted: it may receive 5 credits
    results, _ = run(st, xfer(1, "a", "b", 6), xfer(2, "a", "b", 5), xfer(3, "c", "d", 2**63 - 1))
    assert results == ["exceeds_debits", "ok", "ok"]
    assert run(st, xfer(4, "c", "a", 1))[0] == ["overflows_debits"]
    assert run(st, xfer(5, "a", "d", 1))[0] == ["overflows_credits"]


def test_history_rows_carry_balances_after_each_transfer():
    st = state(a=(A_HISTORY, 0), b=(0, 0))
    _, writes = run(st, xfer(1, "b", "a", 5), xfer(2, "b", "a", 7))
    assert [(h[0], h[5]) for h in writes.history] == [("a", 5), ("a", 12)]
    assert [h[1] for h in writes.history] == [1000, 1001]


def test_timestamps_strictly_increase_and_skip_failures():
    st = state(a=(0, 0), b=(0, 0))
    _, writes = run(st, xfer(1, "a", "b", 1), xfer(2, "a", "zz", 1), xfer(3, "a", "b", 1))
    assert [r[-1] for r in writes.transfers] == [1000, 1001]
