"""The QR endpoints over HTTP (Starlette TestClient), on the real app with the router included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rongpay.api.app import create_app
from rongpay.qr import emv

from .qrhelp import EMVCO_EXAMPLE, PROMPTPAY, samples

ADMIN_KEY = "rk_admin_test_qr_0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
ENCODE = {
    "merchant_name": "BEST TRANSPORT", "merchant_city": "BEIJING", "country": "CN",
    "mcc": "4111", "currency": "CNY", "amount": 2372,
    "accounts": [{"gui": "D15600000000", "fields": {"05": "A93FO3230Q"}}],
    "additional_data": {"bill_number": "1234", "terminal_label": "A6008667"},
    "alternate_language": {"language": "ZH", "merchant_name": "最佳运输", "merchant_city": "北京"},
}  # fmt: skip


def _app(tmp_path: Path) -> FastAPI:
    return create_app(f"sqlite:///{tmp_path / 'qr.db'}", admin_key=ADMIN_KEY)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(_app(tmp_path), headers=AUTH) as c:
        yield c


def _error(r: Any, status: int, code: str, param: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "code", "message", "param"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    if param is not None:
        assert body["error"]["param"] == param
    err: dict[str, Any] = body["error"]
    return err


def test_decode_every_anchor_sample(client: TestClient) -> None:
    for s in samples():
        r = client.post("/v1/qr/decode", json={"payload": s.payload})
        if s.crc_ok:
            assert r.status_code == 200, (s.source, r.text)
            body = r.json()
            assert body["object"] == "qr_payload" and body["crc_valid"] is True
            assert body["payload"] == s.payload
        else:
            assert r.json()["error"]["code"] in ("crc_missing", "crc_mismatch")
            _error(r, 400, r.json()["error"]["code"], "payload")


def test_decode_answers_the_nested_tags(client: TestClient) -> None:
    body = client.post("/v1/qr/decode", json={"payload": EMVCO_EXAMPLE}).json()
    assert body["currency"] == "CNY" and body["currency_numeric"] == "156"
    assert body["amount"] == 2372 and body["amount_text"] == "23.72"
    assert body["point_of_initiation"] == "dynamic" and body["warnings"] == []
    extra = next(t for t in body["tags"] if t["id"] == "62")
    assert [(t["id"], t["name"]) for t in extra["tags"]] == [
        ("03", "Store Label"), ("06", "Customer Label"), ("07", "Terminal Label"),
        ("09", "Additional Consumer Data Request"),
    ]  # fmt: skip
    assert "tags" not in body["tags"][0]


def test_decode_refusals(client: TestClient) -> None:
    bad_crc = client.post("/v1/qr/decode", json={"payload": EMVCO_EXAMPLE[:-1] + "B"})
    assert "'A13A'" in _error(bad_crc, 400, "crc_mismatch", "payload")["message"]
    strict = client.post("/v1/qr/decode", json={"payload": PROMPTPAY, "strict": True})
    _error(strict, 400, "missing_tag", "payload")
    _error(client.post("/v1/qr/decode", json={"payload": 5}), 400, "parameter_invalid", "payload")
    _error(client.post("/v1/qr/decode", json={}), 400, "parameter_invalid", "payload")
    _error(client.post("/v1/qr/decode", json=[PROMPTPAY]), 400, "parameter_invalid")
    _error(client.post("/v1/qr/decode", json={"payload": PROMPTPAY, "strict": "yes"}), 400,
           "parameter_invalid", "strict")  # fmt: skip
    _error(client.post("/v1/qr/decode", json={"payload": PROMPTPAY, "x": 1}), 400,
           "parameter_unknown", "x")  # fmt: skip
    _error(client.post("/v1/qr/decode", content=b"{not json"), 400, "invalid_json")
    _error(client.post("/v1/qr/decode", json={"payload": "x" * 600}), 400, "too_long")


def test_the_caller_must_authenticate(tmp_path: Path) -> None:
    with TestClient(_app(tmp_path)) as anon:
        _error(anon.post("/v1/qr/decode", json={"payload": PROMPTPAY}), 401,
               "authentication_required")  # fmt: skip
        _error(anon.get("/v1/qr/image.svg", params={"payload": PROMPTPAY}), 401,
               "authentication_required")  # fmt: skip


def test_encode_answers_a_payload_that_decodes(client: TestClient) -> None:
    r = client.post("/v1/qr/encode", json=ENCODE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "qr_code" and body["amount"] == 2372 and body["currency"] == "CNY"
    assert body["point_of_initiation"] == "dynamic" and body["length"] == len(body["payload"])
    d = emv.decode(body["payload"], strict=True)
    assert d.crc == body["crc"]
    language = d.get("64")
    assert language is not None and language.child("01") is not None
    again = client.post("/v1/qr/decode", json={"payload": body["payload"]}).json()
    assert again["merchant_name"] == "BEST TRANSPORT" and again["amount"] == 2372


@pytest.mark.parametrize(
    ("changes", "code", "param"),
    [
        ({"merchant_name": "x" * 26}, "invalid_value", "merchant_name"),
        ({"amount": 12.5}, "invalid_value", "amount"),
        ({"amount": -1}, "invalid_value", "amount"),
        ({"currency": "ZZZ"}, "invalid_value", "currency"),
        ({"country": 12}, "invalid_value", "country"),
        ({"mcc": None}, "parameter_invalid", "mcc"),
        ({"accounts": []}, "parameter_invalid", "accounts"),
        ({"accounts": [{"gui": "g"}]}, "parameter_invalid", "accounts[0]"),
        ({"accounts": [{"gui": "g", "valeu": "v"}]}, "parameter_unknown", "accounts[0].valeu"),
        ({"accounts": [{"value": "v"}]}, "invalid_value", "accounts[0].gui"),
        ({"accounts": [{"gui": "g", "fields": ["01"]}]}, "parameter_invalid",
         "accounts[0].fields"),
        ({"accounts": [{"gui": "g", "value": "v", "tag": 26}]}, "parameter_invalid",
         "accounts[0].tag"),
        ({"additional_data": {"bill": "1"}}, "parameter_unknown", "additional_data.bill"),
        ({"additional_data": "1"}, "parameter_invalid", "additional_data"),
        ({"alternate_language": {"language": "ZH"}}, "parameter_invalid", "alternate_language"),
        ({"point_of_initiation": "once"}, "invalid_value", "point_of_initiation"),
        ({"colour": "red"}, "parameter_unknown", "colour"),
    ],
)  # fmt: skip
def test_encode_refusals_name_the_field(
    client: TestClient, changes: dict[str, Any], code: str, param: str
) -> None:
    _error(client.post("/v1/qr/encode", json={**ENCODE, **changes}), 400, code, param)


def test_images(client: TestClient) -> None:
    svg = client.get("/v1/qr/image.svg", params={"payload": EMVCO_EXAMPLE})
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    png = client.get("/v1/qr/image.png", params={"payload": PROMPTPAY, "scale": 2})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    bad = client.get("/v1/qr/image.png", params={"payload": PROMPTPAY[:-1] + "0"})
    _error(bad, 400, "crc_mismatch", "payload")
    _error(client.get("/v1/qr/image.svg"), 400, "parameter_invalid", "payload")
    _error(client.get("/v1/qr/image.png", params={"payload": PROMPTPAY, "scale": 0}), 400,
           "parameter_invalid", "scale")  # fmt: skip


def test_openapi_describes_the_endpoints(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ops = {
        ("/v1/qr/decode", "post"), ("/v1/qr/encode", "post"),
        ("/v1/qr/image.svg", "get"), ("/v1/qr/image.png", "get"),
    }  # fmt: skip
    for path, method in ops:
        op = spec["paths"][path][method]
        assert op["summary"] and op.get("security") and "422" not in op["responses"]
        assert {"400", "401", "503"} <= set(op["responses"])
        for status, resp in op["responses"].items():
            if status != "200":
                schema = resp["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}
    body = spec["paths"]["/v1/qr/encode"]["post"]["requestBody"]["content"]["application/json"]
    assert "$defs" not in json.dumps(body)
    assert {"merchant_name", "accounts", "amount"} <= set(body["schema"]["properties"])
    png = spec["paths"]["/v1/qr/image.png"]["get"]["responses"]["200"]["content"]
    assert set(png) == {"image/png"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=12)
    | st.sampled_from([PROMPTPAY, "D156", "CNY", "156", "CN", "4111", "\ud800", "a\x00"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=10,
)  # fmt: skip
encode_bodies = st.dictionaries(st.sampled_from(sorted(ENCODE)), json_values, max_size=8).map(
    lambda extra: {**ENCODE, **extra}
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(body=json_values | encode_bodies, path=st.sampled_from(["decode", "encode"]))
def test_random_bodies_never_cause_a_5xx(client: TestClient, body: Any, path: str) -> None:
    raw = json.dumps(body).encode()
    r = client.post(f"/v1/qr/{path}", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        _error(r, 400, r.json()["error"]["code"])
