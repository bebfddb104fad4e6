"""Published rule versions in the database (SQLite and PostgreSQL): immutable versions, the
active and shadow roles, scoring with a version, comparing two versions, stdin input."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from sqlalchemy.engine import Engine

from rongpay.cli import main
from rongpay.risk.errors import RuleVersionError
from rongpay.risk.rules import parse_rules
from rongpay.risk.service import published_rules
from rongpay.risk.store import (
    list_rule_versions,
    publish_rules,
    rule_roles,
    rule_source,
    set_rule_role,
)
from tests.risk.conftest import make

V1 = """version 1
rule big: amount_cny >= 500 => review
"""
V2 = """version 2
threshold default review 0.2 challenge 0.5 block 0.8
rule big: amount_cny >= 500 => block
rule farm: device_distinct_payers_24h >= 2 => challenge
"""


def test_publish_is_immutable_and_idempotent(engine: Engine) -> None:
    assert publish_rules(engine, 1, V1, "first") is True
    assert publish_rules(engine, 1, V1) is False  # a replay of the same text
    with pytest.raises(RuleVersionError) as err:
        publish_rules(engine, 1, V1 + "rule tiny: amount_cny < 1 => review\n")
    assert err.value.code == "exists_with_different_source"
    assert rule_source(engine, 1) == V1
    with pytest.raises(RuleVersionError, match="not published"):
        rule_source(engine, 7)


def test_roles(engine: Engine) -> None:
    publish_rules(engine, 1, V1)
    publish_rules(engine, 2, V2)
    assert rule_roles(engine) == {}
    assert published_rules(engine) is None
    set_rule_role(engine, "active", 1)
    set_rule_role(engine, "shadow", 2)
    assert rule_roles(engine) == {"active": 1, "shadow": 2}
    rules = published_rules(engine)
    assert rules is not None and rules.version == 1
    assert [(r.name, r.shadow) for r in rules.rules] == [
        ("big", False), ("v2:big", True), ("v2:farm", True),
    ]  # fmt: skip
    assert rules.default_thresholds is None  # thresholds come from the live version only
    with pytest.raises(RuleVersionError) as err:
        set_rule_role(engine, "shadow", 1)
    assert err.value.code == "already_active"
    with pytest.raises(RuleVersionError) as err:
        set_rule_role(engine, "active", 3)
    assert err.value.code == "unknown_version"
    set_rule_role(engine, "active", 2)  # promoting the shadow version ends its shadow run
    assert rule_roles(engine) == {"active": 2}
    assert [(v.version, v.roles) for v in list_rule_versions(engine)] == [(1, ()), (2, ("active",))]
    set_rule_role(engine, "shadow", 1)
    set_rule_role(engine, "shadow", None)
    assert rule_roles(engine) == {"active": 2}
    one = published_rules(engine, 1)
    assert one is not None and [r.name for r in one.rules] == ["big"]


def _events(tmp_path: Path) -> Path:
    rows = [
        make(t=0, id="a", amount_minor=1_000),
        make(t=60, id="b", amount_minor=90_000, payer="acct_b"),
        make(t=120, id="c", amount_minor=1_000, payer="acct_c"),
    ]
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _decisions(out: str) -> dict[str, tuple[str, list[str], list[str]]]:
    rows = [orjson.loads(line) for line in out.splitlines() if line.strip()]
    return {r["id"]: (r["decision"], r["reasons"], r.get("shadow", [])) for r in rows}


def test_cli_versions_end_to_end(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "v1.txt").write_text(V1)
    (tmp_path / "v2.txt").write_text(V2)
    db = ["--db", db_url]
    assert main(["risk", "rules", "publish", str(tmp_path / "v1.txt"), *db]) == 0
    assert main(["risk", "rules", "publish", str(tmp_path / "v2.txt"), "--note", "x", *db]) == 0
    assert main(["risk", "rules", "activate", "1", *db]) == 0
    assert main(["risk", "rules", "shadow", "2", *db]) == 0
    capsys.readouterr()
    assert main(["risk", "rules", "list", "--json", *db]) == 0
    listed = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(v["version"], v["roles"], v["note"]) for v in listed] == [
        (1, ["active"], ""), (2, ["shadow"], "x"),
    ]  # fmt: skip
    events = _events(tmp_path)
    no_model = ["--no-model", *db]
    assert main(["risk", "score", str(events), *no_model]) == 0
    active = _decisions(capsys.readouterr().out)
    assert active["b"] == ("review", ["rule:big"], ["v2:big"])  # one payer on dev_1 before b
    assert active["c"][0] == "allow" and active["c"][2] == ["v2:farm"]
    assert main(["risk", "score", str(events), "--rules-version", "2", *no_model]) == 0
    two = _decisions(capsys.readouterr().out)
    assert two["b"] == ("block", ["rule:big"], []) and two["c"] == ("challenge", ["rule:farm"], [])
    assert main(["risk", "rules", "backtest", "1", "2", str(events), "--json", *no_model]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["changed"] == 2
    assert report["changed_by_transition"] == {"allow->challenge": 1, "review->block": 1}
    assert report["b"]["rule_hits"] == {"big": 1, "farm": 1}
    assert main(["risk", "rules", "show", "2", *db]) == 0
    assert capsys.readouterr().out == V2
    assert main(["risk", "rules", "show", "9", *db]) == 2
    assert "[unknown_version]" in capsys.readouterr().err


def test_score_reads_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _events(tmp_path)
    assert main(["risk", "score", str(events)]) == 0
    from_file = capsys.readouterr().out
    bad = events.read_bytes() + b"not json\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(bad)))
    assert main(["risk", "score", "-"]) == 1
    captured = capsys.readouterr()
    assert captured.out == from_file
    assert "<stdin>:4: malformed JSON" in captured.err


def test_shadow_rules_keep_their_parse(tmp_path: Path) -> None:
    from rongpay.risk.rules import with_shadow

    merged = with_shadow(parse_rules(V1), parse_rules(V2))
    assert merged.version == 1 and merged.has_shadow
