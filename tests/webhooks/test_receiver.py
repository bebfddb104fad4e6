from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from rongpay import webhooks
from rongpay.security.signing import sign

BODY = b'{"id":"evt_1","object":"event","type":"charge.refunded","data":{"object":{}}}'


def test_verify_returns_the_event_and_accepts_either_secret_during_rotation() -> None:
    header = sign(["whsec_new", "whsec_old"], BODY, timestamp=1_000)
    assert webhooks.verify(BODY, header, "whsec_old", now=1_100)["id"] == "evt_1"
    assert webhooks.verify(BODY, header, ["whsec_x", "whsec_new"], now=1_100)["type"] == (
        "charge.refunded"
    )


def test_tolerance_is_five_minutes_by_default_and_adjustable() -> None:
    header = sign(["s"], BODY, timestamp=1_000)
    webhooks.verify(BODY, header, "s", now=1_300)
    with pytest.raises(webhooks.SignatureError, match="tolerance"):
        webhooks.verify(BODY, header, "s", now=1_301)
    webhooks.verify(BODY, header, "s", tolerance_s=600, now=1_600)


@pytest.mark.parametrize(
    ("body", "header_body", "error"),
    [
        (BODY + b" ", BODY, webhooks.SignatureError),  # changed in transit
        (b"not json", b"not json", webhooks.InvalidPayload),
        (b'{"id": "x"}', b'{"id": "x"}', webhooks.InvalidPayload),
    ],
)
def test_refusals(body: bytes, header_body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        webhooks.verify(body, sign(["s"], header_body, timestamp=1_000), "s", now=1_000)
    assert issubclass(error, ValueError)


def test_no_header_and_no_secret() -> None:
    with pytest.raises(webhooks.SignatureError, match="no signature header"):
        webhooks.verify(BODY, None, "s")
    with pytest.raises(TypeError):
        webhooks.verify(BODY, "t=1,v1=ab", [])


def _doc_verify(body: bytes, header: str, secrets: list[str], tolerance_s: int = 300) -> Any:
    """The plain-code receiver of docs/reference/webhooks.md, verbatim."""
    t, sigs = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            t = int(value)
        elif key == "v1":
            sigs.append(value)
    if t is None or not sigs or abs(time.time() - t) > tolerance_s:
        raise ValueError("bad or stale signature header")
    for secret in secrets:
        expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, s) for s in sigs):
            return json.loads(body)
    raise ValueError("no signature matches")


def test_the_documented_plain_code_agrees_with_the_sender() -> None:
    header = sign(["whsec_new", "whsec_old"], BODY)
    assert _doc_verify(BODY, header, ["whsec_old"])["id"] == "evt_1"
    with pytest.raises(ValueError, match="no signature"):
        _doc_verify(BODY, header, ["whsec_other"])
    with pytest.raises(ValueError, match="stale"):
        _doc_verify(BODY, sign(["whsec_new"], BODY, timestamp=int(time.time()) - 301), ["x"])
