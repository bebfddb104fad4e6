"""Helpers for the API tests: the TestClient import, the admin key, batch and error checks."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

ADMIN_KEY = "rk_admin_test_0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}

__all__ = ["ADMIN_KEY", "AUTH", "TestClient", "accounts", "assert_error", "transfers"]


def accounts(client: Any, *items: dict[str, Any]) -> list[str]:
    r = client.post("/v1/ledger/accounts", json={"accounts": list(items)})
    assert r.status_code == 200, r.text
    return [x["result"] for x in r.json()["results"]]


def transfers(client: Any, *items: dict[str, Any]) -> list[str]:
    r = client.post("/v1/ledger/transfers", json={"transfers": list(items)})
    assert r.status_code == 200, r.text
    return [x["result"] for x in r.json()["results"]]


def assert_error(response: Any, status: int, code: str, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    err: dict[str, Any] = body["error"]
    assert set(err) == {"type", "code", "message", "param"}
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"]
    if param is not None:
        assert err["param"] == param, err
    return err
