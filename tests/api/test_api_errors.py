"""Every error code of the API, in the one shape, with its status. Never a 500 for input."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from rongpay.api import create_app, versions
from rongpay.api.errors import MAX_BODY_BYTES
from rongpay.ledger import service

from .apihelp import ADMIN_KEY, AUTH, TestClient, accounts, assert_error, transfers

ACCOUNT = {"id": 1, "ledger": "USD", "code": "x"}
JSON = {"Content-Type": "application/json"}


def test_missing_and_wrong_key(anon: TestClient) -> None:
    for path in ("/v1/ledger/accounts/1", "/v1/ledger/transfers/1"):
        r = anon.get(path)
        assert_error(r, 401, "authentication_required")
        assert r.headers["www-authenticate"].startswith("Bearer")
    bad = anon.get("/v1/ledger/accounts/1", headers={"Authorization": "Bearer nope"})
    assert assert_error(bad, 401, "invalid_api_key")["type"] == "authentication_error"
    for header in ("Basic !!!", "Token abc", "Bearer", f"Bearer {ADMIN_KEY}x"):
        assert_error(anon.get("/v1/ledger/accounts/1", headers={"Authorization": header}),
                     401, "invalid_api_key")  # fmt: skip
    # auth comes before the body is read
    r = anon.post("/v1/ledger/transfers", content=b"{not json")
    assert_error(r, 401, "authentication_required")


def test_basic_auth_with_key_as_user_works(anon: TestClient) -> None:
    r = anon.get("/v1/ledger/accounts/1", auth=(ADMIN_KEY, ""))
    assert_error(r, 404, "resource_missing")


def test_invalid_json(client: TestClient) -> None:
    for body in (b"{", b"", b"\xff\xfe\x00", b'{"accounts": [NaN]}', b"[1,]", b'{"a":1}x'):
        for path in ("/v1/ledger/accounts", "/v1/ledger/transfers"):
            assert_error(client.post(path, content=body, headers=JSON), 400, "invalid_json")


def test_any_content_type_is_read_as_json(client: TestClient) -> None:
    # curl -d sends application/x-www-form-urlencoded; the body is still JSON
    body = b'{"accounts": [{"id": 1, "ledger": "USD", "code": "x"}]}'
    r = client.post("/v1/ledger/accounts", content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 200 and r.json()["results"] == [{"id": 1, "result": "ok"}]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], None),
        ("transfers", None),
        ({}, "transfers"),
        ({"transfer": []}, "transfers"),
        ({"transfers": {}}, "transfers"),
        ({"transfers": None}, "transfers"),
        ({"transfers": [{"id": 1}, 3]}, "transfers[1]"),
        ({"transfers": [[]]}, "transfers[0]"),
    ],
)
def test_wrong_body_shape(client: TestClient, body: Any, param: str | None) -> None:
    r = client.post("/v1/ledger/transfers", json=body)
    err = assert_error(r, 400, "parameter_invalid")
    assert err["param"] == param
    r = client.post("/v1/ledger/accounts", json=_rename(body))
    assert assert_error(r, 400, "parameter_invalid")["param"] == (
        param.replace("transfers", "accounts") if param else None
    )


def _rename(body: Any) -> Any:
    if isinstance(body, dict):
        return {k.replace("transfer", "account"): v for k, v in body.items()}
    return body


def test_batch_too_large(client: TestClient) -> None:
    big = [{"id": i + 1} for i in range(8191)]
    assert_error(client.post("/v1/ledger/transfers", json={"transfers": big}), 400,
                 "batch_too_large")  # fmt: skip
    assert_error(client.post("/v1/ledger/accounts", json={"accounts": big}), 400,
                 "batch_too_large")  # fmt: skip


def test_full_batch_is_accepted(client: TestClient) -> None:
    accounts(client, ACCOUNT, {"id": 2, "ledger": "USD", "code": "x"})
    batch = [{"id": f"t{i}", "debit_account_id": 1, "credit_account_id": 2, "amount": 1,
              "ledger": "USD", "code": "c"} for i in range(8190)]  # fmt: skip
    assert set(transfers(client, *batch)) == {"ok"}
    assert client.get("/v1/ledger/accounts/2").json()["credits_posted"] == 8190


def test_unknown_ids_are_404(client: TestClient) -> None:
    accounts(client, ACCOUNT)
    for path in ("/v1/ledger/accounts/2", "/v1/ledger/transfers/2", "/v1/ledger/accounts/0",
                 "/v1/ledger/accounts/" + "x" * 300, "/v1/ledger/accounts/%20",
                 "/v1/ledger/accounts/99999999999999999999999/transfers",
                 "/v1/ledger/accounts/nope/balance"):  # fmt: skip
        assert_error(client.get(path), 404, "resource_missing", "id")


def test_query_parameters(client: TestClient) -> None:
    accounts(client, ACCOUNT)
    base = "/v1/ledger/accounts/1/transfers"
    for query, param in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                         ("starting_after=nope", "starting_after"),
                         ("ending_before=", "ending_before"),
                         ("starting_after=1&ending_before=2", "ending_before")):  # fmt: skip
        assert_error(client.get(f"{base}?{query}"), 400, "parameter_invalid", param)
    for query, param in (("ledger=XXX", "ledger"), ("limit=1000", "limit"),
                         ("starting_after=%20", "starting_after")):  # fmt: skip
        assert_error(client.get(f"/v1/ledger/accounts?{query}"), 400, "parameter_invalid", param)
    for at in ("yesterday", "2026-01-01T00:00:00", "-5", "1" * 30, "0001-01-01T00:00:00Z"):
        r = client.get("/v1/ledger/accounts/1/balance", params={"at": at})
        assert_error(r, 400, "parameter_invalid", "at")


def test_unknown_route_and_wrong_method(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing"), 404, "route_not_found")
    assert_error(client.put("/v1/ledger/accounts"), 405, "method_not_allowed")
    assert_error(client.get("/v1/ledger/transfers"), 405, "method_not_allowed")
    assert_error(client.delete("/v1/ledger/transfers/1"), 405, "method_not_allowed")
    assert_error(client.put("/healthz"), 405, "method_not_allowed")


def test_payload_too_large(client: TestClient) -> None:
    r = client.post("/v1/ledger/transfers", content=b"x",
                    headers={"Content-Length": str(MAX_BODY_BYTES + 1), **JSON})  # fmt: skip
    assert_error(r, 413, "payload_too_large")


def test_api_version_is_stamped_and_unknown_ones_refused(client: TestClient) -> None:
    ok = client.get("/v1/ledger/accounts/1")
    assert ok.headers["rongpay-version"] == versions.CURRENT  # errors say it too
    pinned = client.get("/v1/ledger/accounts/1", headers={"Rongpay-Version": versions.CURRENT})
    assert pinned.headers["rongpay-version"] == versions.CURRENT
    r = client.get("/v1/ledger/accounts/1", headers={"Rongpay-Version": "1999-01-01"})
    assert assert_error(r, 400, "api_version_invalid")["param"] == "Rongpay-Version"
    assert "rongpay-version" not in client.get("/healthz").headers  # only the API is versioned
    too_big = client.post("/v1/ledger/transfers", content=b"x",
                          headers={"Content-Length": str(MAX_BODY_BYTES + 1), **JSON})  # fmt: skip
    assert too_big.headers["rongpay-version"] == versions.CURRENT
    both = client.post(
        "/v1/ledger/transfers",
        content=b"x",
        headers={
            "Content-Length": str(MAX_BODY_BYTES + 1),
            "Rongpay-Version": "1999-01-01",
            **JSON,
        },
    )
    assert_error(both, 400, "api_version_invalid")  # the version is judged first


def test_huge_integer_ids_are_echoed_not_crashed(client: TestClient) -> None:
    r = client.post("/v1/ledger/transfers", content=b'{"transfers": [{"id": 1' + b"0" * 40 + b"}]}",
                    headers=JSON)  # fmt: skip
    assert r.status_code == 200
    assert r.json()["results"] == [{"id": 10**40, "result": "id_invalid"}]


def test_database_down_is_503() -> None:
    app = create_app("postgresql://nobody@127.0.0.1:1/none", admin_key=ADMIN_KEY)
    with TestClient(app, headers=AUTH) as c:
        assert_error(c.get("/healthz"), 503, "service_unavailable")
        assert_error(c.get("/v1/ledger/accounts/1"), 503, "service_unavailable")
        r = c.post("/v1/ledger/transfers", json={"transfers": []})
        assert assert_error(r, 503, "service_unavailable")["type"] == "api_error"
        assert r.headers["retry-after"] == "1"


def test_genuine_bug_is_a_logged_500_in_the_error_shape(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(db_url, admin_key=ADMIN_KEY)

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    app.add_api_route("/v1/boom", boom)
    with TestClient(app) as c:
        assert_error(c.get("/boom"), 500, "internal_error")
        assert c.get("/v1/boom").headers["rongpay-version"] == versions.CURRENT
    assert any("unhandled error" in r.message for r in caplog.records)


def test_admin_key_is_not_in_repr(db_url: str) -> None:
    app = create_app(db_url, admin_key=ADMIN_KEY)
    assert ADMIN_KEY not in repr(app.state.runtime.admin_key)


def test_unstorable_text_gets_its_result_code(client: TestClient) -> None:
    # PostgreSQL refuses NUL in text and UTF-8 has no lone surrogates: per-item codes, not 500s
    body = (b'{"accounts": [{"id": 1, "ledger": "USD", "code": "x"},'
            b' {"id": 2, "ledger": "USD", "code": "x", "owner": "a\\u0000b"},'
            b' {"id": 3, "ledger": "USD", "code": "x", "owner": "\\ud800"},'
            b' {"id": "\\udfff", "ledger": "USD", "code": "x"}]}')  # fmt: skip
    r = client.post("/v1/ledger/accounts", content=body, headers=JSON)
    assert r.status_code == 200, r.text
    assert [x["result"] for x in r.json()["results"]] == [
        "ok", "owner_invalid", "owner_invalid", "id_invalid"]  # fmt: skip
    assert r.json()["results"][3]["id"] == "\udfff"
    accounts(client, {"id": 9, "ledger": "USD", "code": "x"})
    t = {"id": "t", "debit_account_id": 9, "credit_account_id": 1, "amount": 1,
         "ledger": "USD", "code": "c"}  # fmt: skip
    results = transfers(client, {**t, "user_data": "\x00"}, {**t, "id": "u", "user_data": "ok"})
    assert results == ["user_data_invalid", "ok"]


@pytest.mark.parametrize(
    "exc",
    [
        sqlite3.OperationalError("database is locked"),
        psycopg.OperationalError("server closed the connection unexpectedly"),
        sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused")),
    ],
)
def test_database_lost_while_serving_is_503(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, exc: Exception
) -> None:
    def lost(*_: Any, **__: Any) -> None:
        raise exc

    monkeypatch.setattr(service, "get_account", lost)
    monkeypatch.setattr(service, "create_accounts", lost)
    assert_error(client.get("/v1/ledger/accounts/1"), 503, "service_unavailable")
    r = client.post("/v1/ledger/accounts", json={"accounts": [ACCOUNT]})
    assert_error(r, 503, "service_unavailable")


def test_admin_key_from_environment(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RONGPAY_ADMIN_KEY", "rk_admin_from_env")
    with TestClient(create_app(db_url)) as c:
        ok = c.get("/v1/ledger/accounts", headers={"Authorization": "Bearer rk_admin_from_env"})
        assert ok.status_code == 200
    monkeypatch.delenv("RONGPAY_ADMIN_KEY")
    with TestClient(create_app(db_url)) as c:  # no key anywhere: /v1 is locked
        for key in ("", "rk_admin_from_env", ADMIN_KEY):
            r = c.get("/v1/ledger/accounts", headers={"Authorization": f"Bearer {key}"})
            assert_error(r, 401, "invalid_api_key")
