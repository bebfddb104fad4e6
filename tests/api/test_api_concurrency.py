"""Many threads posting through the API at one hot account: never overdrawn, nothing lost.

Requests go through the group-commit writer, so concurrent batches share transactions; the
account's `debits_must_not_exceed_credits` limit must hold across all of them.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from typing import Any

from .apihelp import TestClient, accounts, transfers

THREADS = 8
REQUESTS = 12
PER_REQUEST = 4
FUNDS = 1_000


def _worker(client: TestClient, n: int, out: dict[str, tuple[str, int, str]],
            errors: list[BaseException]) -> None:  # fmt: skip
    rng = random.Random(n)
    try:
        for r in range(REQUESTS):
            batch: list[dict[str, Any]] = []
            for k in range(PER_REQUEST):
                sink = f"sink{rng.randrange(4)}"
                batch.append({"id": f"w{n}_{r}_{k}", "debit_account_id": "hot",
                              "credit_account_id": sink, "amount": rng.randint(1, 20),
                              "ledger": "USD", "code": "spend"})  # fmt: skip
            for item, result in zip(batch, transfers(client, *batch), strict=True):
                out[item["id"]] = (item["credit_account_id"], item["amount"], result)
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)


def test_hot_account_is_never_overdrawn(client: TestClient) -> None:
    accounts(
        client,
        {"id": "bank", "ledger": "USD", "code": "nostro"},
        {
            "id": "hot",
            "ledger": "USD",
            "code": "wallet",
            "flags": ["debits_must_not_exceed_credits"],
        },
        *[{"id": f"sink{i}", "ledger": "USD", "code": "merchant"} for i in range(4)],
    )
    fund = {"id": "fund", "debit_account_id": "bank", "credit_account_id": "hot",
            "amount": FUNDS, "ledger": "USD", "code": "topup"}  # fmt: skip
    assert transfers(client, fund) == ["ok"]
    out: dict[str, tuple[str, int, str]] = {}
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_worker, args=(client, n, out, errors)) for n in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(out) == THREADS * REQUESTS * PER_REQUEST
    assert {result for _, _, result in out.values()} <= {"ok", "exceeds_credits"}
    spent = sum(amount for _, amount, result in out.values() if result == "ok")
    hot = client.get("/v1/ledger/accounts/hot").json()
    assert hot["credits_posted"] == FUNDS
    assert hot["debits_posted"] == spent <= FUNDS
    assert any(result == "exceeds_credits" for _, _, result in out.values())  # it was contended
    per_sink: dict[str, int] = defaultdict(int)
    for sink, amount, result in out.values():
        if result == "ok":
            per_sink[sink] += amount
    debits = credits = 0
    for aid in ["bank", "hot", *[f"sink{i}" for i in range(4)]]:
        acc = client.get(f"/v1/ledger/accounts/{aid}").json()
        debits, credits = debits + acc["debits_posted"], credits + acc["credits_posted"]
        if aid.startswith("sink"):
            assert acc["credits_posted"] == per_sink[aid]
    assert debits == credits == FUNDS + spent
    for tid, (_, _, result) in out.items():
        status = client.get(f"/v1/ledger/transfers/{tid}").status_code
        assert status == (200 if result == "ok" else 404), tid
