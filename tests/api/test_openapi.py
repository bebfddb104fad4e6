"""/openapi.json describes every endpoint, its request body and its error responses."""

from __future__ import annotations

from .apihelp import TestClient

API_OPERATIONS = {
    ("/healthz", "get"),
    ("/v1/ledger/accounts", "post"),
    ("/v1/ledger/accounts", "get"),
    ("/v1/ledger/transfers", "post"),
    ("/v1/ledger/accounts/{id}", "get"),
    ("/v1/ledger/transfers/{id}", "get"),
    ("/v1/ledger/accounts/{id}/transfers", "get"),
    ("/v1/ledger/accounts/{id}/balance", "get"),
}

BODIES = [
    ("/v1/ledger/accounts", "AccountsRequest", "accounts", "AccountIn"),
    ("/v1/ledger/transfers", "TransfersRequest", "transfers", "TransferIn"),
]


def test_every_endpoint_is_described(anon: TestClient) -> None:
    r = anon.get("/openapi.json")  # public, like /healthz
    assert r.status_code == 200
    spec = r.json()
    ops = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert ops >= API_OPERATIONS
    for path, method in API_OPERATIONS:
        op = spec["paths"][path][method]
        assert op.get("summary"), path
        assert "422" not in op["responses"], (path, method)
        if path.startswith("/v1"):
            assert {"401", "503"} <= set(op["responses"]), (path, method)
            for status, resp in op["responses"].items():
                if status != "200":
                    schema = resp["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
            assert op.get("security"), (path, method)


def test_request_bodies_are_described(anon: TestClient) -> None:
    spec = anon.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for path, model, key, item in BODIES:
        body = spec["paths"][path]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"]["$ref"].endswith(model)
        prop = schemas[model]["properties"][key]
        assert prop["maxItems"] == 8190
        assert prop["items"]["$ref"].endswith(item)
        assert "id" in schemas[item]["properties"]
    assert set(schemas["ErrorDetail"]["properties"]) == {"type", "code", "message", "param"}
    assert "HTTPValidationError" not in schemas


def test_docs_page_renders_without_a_cdn(anon: TestClient) -> None:
    r = anon.get("/docs")
    assert r.status_code == 200 and "/v1/ledger/transfers" in r.text
    assert "cdn" not in r.text.lower() and "<script" not in r.text
