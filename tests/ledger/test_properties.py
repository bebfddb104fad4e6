"""Property tests: any sequence of transfers keeps debits equal to credits and respects flags."""

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rongpay.ledger import batch, check, service
from rongpay.ledger.parse import parse_transfer
from rongpay.ledger.types import A_CREDITS_LIMIT, A_DEBITS_LIMIT

ACCOUNTS = ["a", "b", "c", "d"]
FLAGS = {"a": A_DEBITS_LIMIT, "b": A_CREDITS_LIMIT, "c": 0, "d": A_DEBITS_LIMIT}


@st.composite
def operations(draw, size=40):
    """Raw transfer requests: plain, pending, post, void, linked; some malformed."""
    ops = []
    for n in range(draw(st.integers(1, size))):
        kind = draw(st.sampled_from(["plain", "plain", "pending", "post", "void", "bad"]))
        flags = ["linked"] if draw(st.integers(0, 4)) == 0 else []
        if kind in ("post", "void"):
            raw = {
                "id": f"t{n}",
                "pending_id": f"t{draw(st.integers(0, max(0, n - 1)))}",
                "flags": [*flags, f"{kind}_pending"],
            }
            if kind == "post" and draw(st.booleans()):
                raw["amount"] = draw(st.integers(1, 300))
        else:
            debit, credit = draw(st.permutations(ACCOUNTS))[:2]
            raw = {
                "id": f"t{n}",
                "debit_account_id": debit,
                "credit_account_id": credit,
                "amount": draw(st.integers(1, 300)),
                "flags": [*flags, "pending"] if kind == "pending" else flags,
            }
            if kind == "bad":
                raw["amount"] = draw(st.sampled_from([0, -5, "7", None]))
        if draw(st.integers(0, 9)) == 0 and n:  # replay of an earlier id
            raw["id"] = f"t{draw(st.integers(0, n - 1))}"
        ops.append(raw)
    return ops


def assert_balanced(accounts):
    rows = list(accounts.values())
    assert sum(r[2] for r in rows) == sum(r[4] for r in rows)  # pending
    assert sum(r[3] for r in rows) == sum(r[5] for r in rows)  # posted
    for r in rows:
        assert min(r[2:6]) >= 0
        if r[1] & A_DEBITS_LIMIT:
            assert r[2] + r[3] <= r[5]
        if r[1] & A_CREDITS_LIMIT:
            assert r[4] + r[5] <= r[3]


@settings(max_examples=300, deadline=None)
@given(operations(), st.integers(0, 2_000))
def test_engine_keeps_books_balanced(ops, seed_credit):
    state = batch.BatchState({a: ["USD", FLAGS[a], 0, 0, 0, 0] for a in ACCOUNTS}, {}, {})
    # Seed: a and d start with credits, b with debits, so limited accounts can move money.
    state.accounts["a"][5] = state.accounts["d"][5] = seed_credit
    state.accounts["c"][3] = 2 * seed_credit
    state.accounts["b"][3] = seed_credit
    state.accounts["c"][5] = seed_credit
    writes = batch.BatchWrites()
    results = batch.apply_transfers([parse_transfer(o) for o in ops], state, writes, [1])
    assert len(results) == len(ops)
    assert_balanced(state.accounts)
    assert sum(r == "ok" for r in results) == len(writes.transfers)
    assert len({row[0] for row in writes.transfers}) == len(writes.transfers)


_prefix = itertools.count()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations(size=25), cuts=st.lists(st.integers(1, 25), max_size=4))
def test_database_agrees_with_check(engine, ops, cuts):
    p = f"x{next(_prefix)}-"
    accounts = [
        {
            "id": p + a,
            "ledger": "USD",
            "code": "t",
            "flags": [
                f
                for f, bit in (
                    ("debits_must_not_exceed_credits", A_DEBITS_LIMIT),
                    ("credits_must_not_exceed_debits", A_CREDITS_LIMIT),
                )
                if FLAGS[a] & bit
            ],
        }
        for a in ACCOUNTS
    ]
    accounts.append({"id": p + "bank", "ledger": "USD", "code": "t"})
    assert set(service.create_accounts(engine, accounts)) == {"ok"}
    service.create_transfers(
        engine,
        [
            service.parse_transfers(
                [
                    {
                        "id": p + "f1",
                        "debit_account_id": p + "bank",
                        "credit_account_id": p + "a",
                        "amount": 500,
                    },
                    {
                        "id": p + "f2",
                        "debit_account_id": p + "b",
                        "credit_account_id": p + "bank",
                        "amount": 500,
                    },
                ]
            )
        ],
    )
    for o in ops:
        for key in ("id", "pending_id", "debit_account_id", "credit_account_id"):
            if isinstance(o.get(key), str):
                o[key] = p + o[key]
    bounds = sorted({0, len(ops), *[c for c in cuts if c < len(ops)]})
    for lo, hi in itertools.pairwise(bounds):
        service.create_transfers(engine, [service.parse_transfers(ops[lo:hi])])
    report = check.check(engine)
    assert report.ok, report.as_dict()
