"""The rule language: what parses, what fails (with line and column), what matches."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rongpay.risk.errors import RuleSyntaxError
from rongpay.risk.event import Event
from rongpay.risk.features import FEATURES, INDEX
from rongpay.risk.lists import Entry, Kind, ListName, Lists
from rongpay.risk.rules import Context, parse_rules

Ev = Callable[..., Event]


def ctx(event: Event, score: float = 0.0, lists: Lists | None = None, **features: float) -> Context:
    x = [0.0] * len(FEATURES)
    for name, value in features.items():
        x[INDEX[name]] = value
    return Context(event, x, score, lists or Lists())


def one(text: str):  # type: ignore[no-untyped-def]
    return parse_rules("version 1\n" + text).rules[0].test


def test_full_file_parses() -> None:
    rs = parse_rules(
        "# comment\n"
        "version 4\n"
        "threshold default review 0.2 challenge 0.5 block 0.8\n"
        'threshold merchant "acct_m" block 0.99\n'
        'rule a: payer_cnt_1h >= 3 and not (channel == "qr") => block "why"\n'
        "shadow rule b:\n"
        "    amount_cny > 100\n"
        '    or payee_country in ["KP", "IR"] => review\n'
    )
    assert rs.version == 4 and [r.name for r in rs.rules] == ["a", "b"]
    assert rs.rules[0].reason == "why" and rs.rules[1].shadow and rs.has_shadow
    assert rs.default_thresholds and rs.default_thresholds.review == 0.2
    assert rs.merchant_thresholds["acct_m"].block == 0.99
    assert rs.merchant_thresholds["acct_m"].review == 0.3  # unnamed cut-offs keep defaults


def test_matching(ev: Ev) -> None:
    e = ev(amount_minor=250_000, payee_country="KP", channel="card")
    assert one("rule r: amount_cny > 2000 => block")(ctx(e, amount_log=7.9))
    assert not one("rule r: amount_minor < 1000 => block")(ctx(e))
    assert one('rule r: payee_country in ["KP", "IR"] and channel != "qr" => block')(ctx(e))
    assert one('rule r: payee_country not in ["CN"] => block')(ctx(e))
    assert one("rule r: score >= 0.5 or payer_cnt_1h > 9 => review")(ctx(e, score=0.7))
    assert not one("rule r: not (score >= 0.5) => review")(ctx(e, score=0.7))
    assert one("rule r: new_device_for_payer == true => review")(ctx(e, new_device_for_payer=1))


def test_missing_field_compares_false(ev: Ev) -> None:
    e = ev(device_id=None)
    assert not one('rule r: device_id == "dev_1" => block')(ctx(e))
    assert not one('rule r: device_id != "dev_1" => block')(ctx(e))


def test_lists_in_rules(ev: Ev) -> None:
    lists = Lists([Entry(ListName.BLOCK, Kind.DEVICE, "dev_bad")])
    test = one("rule r: device_id in blocklist => block")
    assert test(ctx(ev(device_id="dev_bad"), lists=lists))
    assert not test(ctx(ev(device_id="dev_ok"), lists=lists))
    assert one("rule r: payer not in allowlist => block")(ctx(ev(), lists=lists))


@pytest.mark.parametrize(
    ("text", "where", "needle"),
    [
        ("rule r: payer_cnt_1d > 3 => block", "2:9", "unknown field 'payer_cnt_1d' (did you mean"),
        ('rule r: channel > "a" => block', "2:17", "needs numbers"),
        ('rule r: amount_cny == "a" => block', "2:23", "cannot compare a number with text"),
        ("rule r: payer_cnt_1h > 3 => deny", "2:29", "expected allow, review, challenge or block"),
        ("rule r: payer_cnt_1h > 3", "2:25", "expected '=>'"),
        ("rule r: payer_cnt_1h 3 => block", "2:22", "expected a comparison"),
        ('rule r: channel == "qr => block', "2:20", "unexpected character"),
        ('rule r: amount_cny in [1, "a"] => block', "2:27", "list items must all be a number"),
        ("rule r: amount_cny in blocklist => block", "2:9", "can be looked up in a list"),
        ("rule r: (amount_cny > 1 => block", "2:25", "expected ')'"),
        ("rule 9: amount_cny > 1 => block", "2:6", "expected a rule name"),
        ("frobnicate", "2:1", "expected 'version', 'threshold', 'rule'"),
        ("threshold default review 0.9 block 0.5", "2:11", "review <= challenge <= block"),
        ("threshold default block 1.5", "2:25", "between 0 and 1"),
        ("  rule r: amount_cny > 1 => block", None, None),  # continuation of "version 1": error
        ("rule r: amount_cny > 1 => block extra", "2:33", "unexpected 'extra'"),
    ],
)
def test_syntax_errors(text: str, where: str | None, needle: str | None) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse_rules("version 1\n" + text)
    if where is not None:
        assert info.value.message.startswith(where + ":"), info.value.message
    if needle is not None:
        assert needle in info.value.message


def test_file_level_errors() -> None:
    with pytest.raises(RuleSyntaxError, match="missing 'version N'"):
        parse_rules("rule r: amount_cny > 1 => block")
    with pytest.raises(RuleSyntaxError, match="defined twice"):
        parse_rules("version 1\nrule r: amount_cny > 1 => block\nrule r: score > 1 => block")
    with pytest.raises(RuleSyntaxError, match="given twice"):
        parse_rules("version 1\nversion 2")
    with pytest.raises(RuleSyntaxError, match="nested deeper"):
        parse_rules("version 1\nrule r: " + "(" * 60 + "score > 1" + ")" * 60 + " => block")


def test_default_rules_parse() -> None:
    from importlib import resources

    text = resources.files("rongpay.risk").joinpath("default_rules.txt").read_text()
    rs = parse_rules(text)
    assert rs.rules and rs.has_shadow
