from __future__ import annotations

from typing import Any

import pytest

from rongpay.webhooks.errors import ErrorCode, WebhookError
from rongpay.webhooks.parse import (
    parse_create,
    parse_enabled_events,
    parse_rotation,
    parse_update,
    parse_url,
)


@pytest.mark.parametrize(
    "url",
    ["https://example.com/hooks", "http://127.0.0.1:8080/x?y=1", "https://a.b/" + "p" * 2000],
)
def test_good_test_mode_urls(url: str) -> None:
    assert parse_url(url, livemode=False) == url


@pytest.mark.parametrize(
    ("url", "livemode", "reason"),
    [
        (None, False, "non-empty string"),
        ("", False, "non-empty string"),
        ("ftp://example.com/", False, "http"),
        ("example.com/hooks", False, "http"),
        ("https://", False, "host"),
        ("https://example.com/" + "p" * 2048, False, "2048"),
        ("https://exa mple.com/", False, "spaces"),
        ("https://user:pw@example.com/", False, "password"),
        ("https://example.com:99999/", False, "not a valid URL"),
        ("https://example.com/#frag", False, "fragment"),
        ("http://example.com/", True, "https"),
        ("https://127.0.0.1/", True, "public host"),
        ("https://10.1.2.3/", True, "public host"),
        ("https://localhost/", True, "public host"),
    ],
)
def test_bad_urls(url: Any, livemode: bool, reason: str) -> None:
    with pytest.raises(WebhookError, match=reason) as err:
        parse_url(url, livemode=livemode)
    assert err.value.code == ErrorCode.URL_INVALID
    assert err.value.param == "url"


def test_enabled_events() -> None:
    assert parse_enabled_events(["charge.refunded", "charge.refunded"]) == ["charge.refunded"]
    assert parse_enabled_events(["charge.refunded", "*"]) == ["*"]
    with pytest.raises(WebhookError) as err:
        parse_enabled_events(["charge.refunded", "payout.paid"])
    assert (err.value.code, err.value.param) == ("event_type_invalid", "enabled_events[1]")
    bads: list[Any] = [[], "charge.refunded", None]
    for bad in bads:
        with pytest.raises(WebhookError) as err:
            parse_enabled_events(bad)
        assert err.value.code == ErrorCode.PARAMETER_INVALID


def test_create_and_update_bodies() -> None:
    spec = parse_create({"url": "https://e.com/h", "enabled_events": ["*"]}, livemode=True)
    assert (spec.url, spec.enabled_events, spec.description) == ("https://e.com/h", ["*"], None)
    for body, code, param in [
        ([], "parameter_invalid", None),
        ({"url": "https://e.com"}, "parameter_missing", "enabled_events"),
        ({"url": "https://e.com", "enabled_events": ["*"], "secret": "x"}, "parameter_unknown",
         "secret"),
    ]:  # fmt: skip
        with pytest.raises(WebhookError) as err:
            parse_create(body, livemode=False)
        assert (err.value.code, err.value.param) == (code, param)
    patch = parse_update({"disabled": True, "description": None}, livemode=False)
    assert patch.disabled is True and patch.clear_description and patch.url is None
    with pytest.raises(WebhookError, match="disabled"):
        parse_update({"disabled": "yes"}, livemode=False)


def test_rotation_window() -> None:
    assert parse_rotation(None) == 86_400
    assert parse_rotation({"expire_previous_in_s": 0}) == 0
    for bad in (-1, 7 * 86_400 + 1, True, "60", 1.5):
        with pytest.raises(WebhookError, match="expire_previous_in_s"):
            parse_rotation({"expire_previous_in_s": bad})
