"""Random JSON at both POST endpoints: never a 5xx, always a result per item or the error shape."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .apihelp import TestClient, assert_error

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["USD", "JPY", "XXX", "1", "0", "a" * 70, "linked", "pending", "history"]),
    st.sampled_from([1, 2, 3, "1", "2", "t1", "t2"]),  # ids that exist: deeper checks run
    st.sampled_from(["\x00", "a\x00", "\ud800", "\udfff x"]),  # text no database stores
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["id", "debit_account_id", "credit_account_id", "amount", "ledger", "code", "flags",
          "pending_id", "timeout", "user_data", "owner"]  # fmt: skip
FLAGS = ["linked", "pending", "post_pending", "void_pending", "history",
         "debits_must_not_exceed_credits", "nope"]  # fmt: skip
flags = st.lists(st.sampled_from(FLAGS), max_size=3)
items = st.dictionaries(
    st.sampled_from(FIELDS), scalars | flags | json_values, max_size=len(FIELDS)
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"transfers": st.lists(items, max_size=6)}),
    st.fixed_dictionaries({"accounts": st.lists(items, max_size=6)}),
    st.fixed_dictionaries({"transfers": json_values, "accounts": json_values}),
)

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


SEED = [
    {"id": 1, "ledger": "USD", "code": "a"},
    {"id": 2, "ledger": "USD", "code": "a"},
    {"id": 3, "ledger": "JPY", "code": "a", "flags": ["debits_must_not_exceed_credits"]},
]
SEED_T = [{"id": "t1", "debit_account_id": 1, "credit_account_id": 2, "amount": 5,
           "ledger": "USD", "code": "c"},
          {"id": "t2", "debit_account_id": 2, "credit_account_id": 1, "amount": 5,
           "ledger": "USD", "code": "c", "flags": ["pending"]}]  # fmt: skip


def _check(client: TestClient, path: str, key: str, body: Any) -> None:
    client.post("/v1/ledger/accounts", json={"accounts": SEED})
    client.post("/v1/ledger/transfers", json={"transfers": SEED_T})
    r = client.post(path, content=json.dumps(body).encode(),
                    headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code < 500, r.text
    if r.status_code == 200:
        results = r.json()["results"]
        sent = body[key]
        assert [x["id"] for x in results] == [item.get("id") for item in sent]
        assert all(isinstance(x["result"], str) for x in results)
    else:
        assert_error(r, r.status_code, r.json()["error"]["code"])
        assert 400 <= r.status_code < 500


@SETTINGS
@given(body=bodies)
def test_transfers_endpoint_survives_anything(client: TestClient, body: Any) -> None:
    _check(client, "/v1/ledger/transfers", "transfers", body)


@SETTINGS
@given(body=bodies)
def test_accounts_endpoint_survives_anything(client: TestClient, body: Any) -> None:
    _check(client, "/v1/ledger/accounts", "accounts", body)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=64))
def test_arbitrary_bytes(client: TestClient, raw: bytes) -> None:
    r = client.post("/v1/ledger/transfers", content=raw)
    assert r.status_code in (200, 400), r.text
