"""The ledger over HTTP: create, read, list with running balances, balances at a time."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from .apihelp import TestClient, accounts, assert_error, transfers

Id = int | str

USD_WALLET = {"id": 1, "ledger": "USD", "code": "customer_wallet",
              "flags": ["debits_must_not_exceed_credits", "history"], "owner": "alice"}  # fmt: skip
USD_CASH = {"id": "cash_usd", "ledger": "USD", "code": "nostro"}
EUR_CASH = {"id": "cash_eur", "ledger": "EUR", "code": "nostro"}


def _t(tid: str, debit: Id, credit: Id, amount: int, **extra: Any) -> dict[str, Any]:
    return {"id": tid, "debit_account_id": debit, "credit_account_id": credit,
            "amount": amount, "ledger": "USD", "code": "topup", **extra}  # fmt: skip


def test_create_accounts_and_read_back(client: TestClient) -> None:
    assert accounts(client, USD_WALLET, USD_CASH, EUR_CASH) == ["ok", "ok", "ok"]
    body = client.get("/v1/ledger/accounts/1").json()
    assert body == {
        "object": "ledger.account", "id": 1, "ledger": "USD", "code": "customer_wallet",
        "flags": ["debits_must_not_exceed_credits", "history"], "debits_pending": 0,
        "debits_posted": 0, "credits_pending": 0, "credits_posted": 0, "owner": "alice",
        "timestamp": body["timestamp"],
    }  # fmt: skip
    assert body["timestamp"] > 0
    assert client.get("/v1/ledger/accounts/cash_usd").json()["id"] == "cash_usd"


def test_results_echo_ids_as_sent_and_per_item_codes(client: TestClient) -> None:
    r = client.post("/v1/ledger/accounts", json={"accounts": [
        {"id": "7", "ledger": "USD", "code": "x"},
        {"id": 8, "ledger": "XXX", "code": "x"},
        {"id": -1, "ledger": "USD", "code": "x"},
        {"ledger": "USD", "code": "x"},
        {"id": 9, "ledger": "USD", "code": "x", "flags": ["debits_must_not_exceed_credits",
                                                         "credits_must_not_exceed_debits"]},
    ]})  # fmt: skip
    assert r.status_code == 200
    assert r.json()["results"] == [
        {"id": "7", "result": "ok"},
        {"id": 8, "result": "ledger_invalid"},
        {"id": -1, "result": "id_invalid"},
        {"id": None, "result": "id_invalid"},
        {"id": 9, "result": "flags_are_mutually_exclusive"},
    ]
    # "7" and 7 name the same account, rendered back as a number
    assert client.get("/v1/ledger/accounts/7").json()["id"] == 7


def test_transfers_move_balances_and_replays_are_idempotent(client: TestClient) -> None:
    accounts(client, USD_WALLET, USD_CASH)
    batch = [_t("t1", "cash_usd", 1, 10_000), _t("t2", 1, "cash_usd", 2_500, code="payment")]
    assert transfers(client, *batch) == ["ok", "ok"]
    assert transfers(client, *batch) == ["exists", "exists"]
    changed = dict(batch[0], amount=9_999)
    assert transfers(client, changed) == ["exists_with_different_fields"]
    wallet = client.get("/v1/ledger/accounts/1").json()
    assert (wallet["credits_posted"], wallet["debits_posted"]) == (10_000, 2_500)
    t = client.get("/v1/ledger/transfers/t2").json()
    assert t["debit_account_id"] == 1 and t["credit_account_id"] == "cash_usd"
    assert t["amount"] == 2_500 and t["code"] == "payment" and t["flags"] == []
    assert "pending_state" not in t


def test_overdraft_and_ledger_mismatch_are_result_codes(client: TestClient) -> None:
    accounts(client, USD_WALLET, USD_CASH, EUR_CASH)
    results = transfers(
        client,
        _t("over", 1, "cash_usd", 1),
        _t("mix", "cash_eur", 1, 5, ledger=None),
        _t("zero", "cash_usd", 1, 0),
        _t("ghost", "cash_usd", 404, 5),
        _t("fine", "cash_usd", 1, 5),
    )
    assert results == ["exceeds_credits", "accounts_must_have_same_ledger",
                       "amount_must_not_be_zero", "credit_account_not_found", "ok"]  # fmt: skip


def test_linked_chain_fails_whole(client: TestClient) -> None:
    accounts(client, USD_WALLET, USD_CASH)
    results = transfers(
        client,
        _t("a", "cash_usd", 1, 100, flags=["linked"]),
        _t("b", 1, "cash_usd", 500),  # would overdraw: the whole chain fails
    )
    assert results == ["linked_event_failed", "exceeds_credits"]
    assert_error(client.get("/v1/ledger/transfers/a"), 404, "resource_missing")


def test_two_phase_pending_state(client: TestClient) -> None:
    accounts(client, USD_WALLET, USD_CASH)
    transfers(client, _t("fund", "cash_usd", 1, 1_000))
    hold = _t("hold", 1, "cash_usd", 600, flags=["pending"], timeout=3600)
    hold2 = _t("hold2", 1, "cash_usd", 100, flags=["pending"])
    assert transfers(client, hold, hold2) == ["ok", "ok"]
    assert client.get("/v1/ledger/transfers/hold").json()["pending_state"] == "pending"
    wallet = client.get("/v1/ledger/accounts/1").json()
    assert wallet["debits_pending"] == 700
    post = {"id": "capture", "pending_id": "hold", "amount": 400, "flags": ["post_pending"]}
    void = {"id": "release", "pending_id": "hold2", "flags": ["void_pending"]}
    assert transfers(client, post, void) == ["ok", "ok"]
    assert client.get("/v1/ledger/transfers/hold").json()["pending_state"] == "posted"
    assert client.get("/v1/ledger/transfers/hold2").json()["pending_state"] == "voided"
    wallet = client.get("/v1/ledger/accounts/1").json()
    assert (wallet["debits_pending"], wallet["debits_posted"]) == (0, 400)
    again = {"id": "capture2", "pending_id": "hold", "flags": ["post_pending"]}
    assert transfers(client, again) == ["pending_transfer_already_posted"]


def test_statement_pages_newest_first_with_running_balance(client: TestClient) -> None:
    accounts(client, USD_WALLET, USD_CASH)
    transfers(client, *[_t(f"s{i}", "cash_usd", 1, 100 + i) for i in range(7)])
    transfers(client, _t("held", 1, "cash_usd", 50, flags=["pending"]))
    first = client.get("/v1/ledger/accounts/1/transfers?limit=3").json()
    assert first["object"] == "list" and first["has_more"] is True
    assert [e["id"] for e in first["data"]] == ["held", "s6", "s5"]
    total = sum(100 + i for i in range(7))
    assert first["data"][0]["balance"] == {"debits_posted": 0, "credits_posted": total}
    assert first["data"][0]["direction"] == "debit" and first["data"][1]["direction"] == "credit"
    assert first["data"][2]["balance"]["credits_posted"] == total - 106
    seen = [e["id"] for e in first["data"]]
    cursor = seen[-1]
    while True:
        page = client.get(f"/v1/ledger/accounts/1/transfers?limit=3&starting_after={cursor}").json()
        seen += [e["id"] for e in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["data"][-1]["id"]
    assert seen == ["held"] + [f"s{i}" for i in range(6, -1, -1)]
    back = client.get("/v1/ledger/accounts/1/transfers?limit=2&ending_before=s2").json()
    assert [e["id"] for e in back["data"]] == ["s4", "s3"] and back["has_more"] is True
    assert back["data"][1]["balance"]["credits_posted"] == sum(100 + i for i in range(4))


def test_statement_of_account_without_transfers(client: TestClient) -> None:
    accounts(client, USD_CASH)
    page = client.get("/v1/ledger/accounts/cash_usd/transfers").json()
    assert page["data"] == [] and page["has_more"] is False


def test_balance_now_and_at_a_past_time(client: TestClient) -> None:
    accounts(client, USD_WALLET, USD_CASH)
    transfers(client, _t("b1", "cash_usd", 1, 300))
    middle_ns = time.time_ns()
    time.sleep(0.002)
    transfers(client, _t("b2", "cash_usd", 1, 200))
    now = client.get("/v1/ledger/accounts/1/balance").json()
    assert now["credits_posted"] == 500 and now["at"] is None
    past = client.get(f"/v1/ledger/accounts/1/balance?at={middle_ns}").json()
    assert past["credits_posted"] == 300 and past["at_ns"] == middle_ns
    assert past["at"].startswith(str(dt.datetime.now(dt.UTC).year)) and past["at"].endswith("Z")
    assert past["as_of_transfer_timestamp"] < middle_ns
    before = client.get("/v1/ledger/accounts/1/balance?at=2020-01-01T00:00:00Z").json()
    assert before["credits_posted"] == 0 and before["as_of_transfer_timestamp"] is None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    r = client.get("/v1/ledger/accounts/1/balance", params={"at": later.isoformat()})
    assert r.json()["credits_posted"] == 500


def test_balance_at_needs_history_flag(client: TestClient) -> None:
    accounts(client, USD_CASH)
    r = client.get("/v1/ledger/accounts/cash_usd/balance?at=2026-01-01T00:00:00Z")
    assert_error(r, 400, "history_not_enabled", "at")
    # now is fine for any account
    assert client.get("/v1/ledger/accounts/cash_usd/balance").status_code == 200


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert r.json()["database"] in ("sqlite", "postgresql")


def test_statement_shows_pending_state(client: TestClient) -> None:
    accounts(client, USD_WALLET, USD_CASH)
    transfers(client, _t("fund", "cash_usd", 1, 1_000))
    transfers(client, _t("hold", 1, "cash_usd", 600, flags=["pending"]))
    transfers(client, {"id": "cap", "pending_id": "hold", "flags": ["post_pending"]})
    data = client.get("/v1/ledger/accounts/1/transfers").json()["data"]
    assert [e["id"] for e in data] == ["cap", "hold", "fund"]
    assert data[1]["pending_state"] == "posted" and "pending_state" not in data[0]
    assert data[0]["balance"]["debits_posted"] == 600
    assert data[1]["balance"]["debits_posted"] == 0


def test_list_accounts_pages_in_id_order(client: TestClient) -> None:
    accounts(client, *[{"id": f"a{i}", "ledger": "USD", "code": "x"} for i in range(5)],
             {"id": "e1", "ledger": "EUR", "code": "x"})  # fmt: skip
    first = client.get("/v1/ledger/accounts?limit=4").json()
    assert first["object"] == "list" and first["has_more"] is True
    assert [a["id"] for a in first["data"]] == ["a0", "a1", "a2", "a3"]
    rest = client.get("/v1/ledger/accounts?limit=4&starting_after=a3").json()
    assert [a["id"] for a in rest["data"]] == ["a4", "e1"] and rest["has_more"] is False
    eur = client.get("/v1/ledger/accounts?ledger=EUR").json()
    assert [a["id"] for a in eur["data"]] == ["e1"]
    assert eur["data"][0]["object"] == "ledger.account"
