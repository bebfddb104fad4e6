"""`rongpay risk ...` end to end: output format, bad input, exit codes, never a traceback."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from rongpay.cli import main
from tests.risk.conftest import make


def lines_of(text: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


def write(path: Path, rows: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(rows) + b"\n")
    return path


def test_score_format(sim_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", "score", str(sim_file)]) == 0
    out = lines_of(capsys.readouterr().out)
    ids = [orjson.loads(line)["id"] for line in sim_file.read_bytes().splitlines()]
    assert [o["id"] for o in out] == ids
    for o in out[:500]:
        assert set(o) == {"id", "score", "decision", "reasons"}
        assert 0.0 <= float(o["score"]) <= 1.0  # type: ignore[arg-type]
        assert o["decision"] in {"allow", "review", "challenge", "block"}


def test_score_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "e.jsonl", [
        orjson.dumps(make(t=10, id="a")),
        b'{"id": "b", "ts": ',
        orjson.dumps(make(t=20, id="c", amount_minor="12")),
        orjson.dumps(make(t=30, id="d", currency="XXY")),
        orjson.dumps(make(t=5, id="e")),
        orjson.dumps(make(t=40, id="f")),
    ])  # fmt: skip
    assert main(["risk", "score", str(path)]) == 1
    captured = capsys.readouterr()
    assert [o["id"] for o in lines_of(captured.out)] == ["a", "f"]
    err = captured.err
    assert f"{path}:2: malformed JSON" in err
    assert f"{path}:3: field 'amount_minor' must be an integer" in err
    assert f"{path}:4: unknown currency 'XXY'" in err
    assert f"{path}:5: event 'e'" in err and "[out_of_order]" in err
    assert "4 line(s) rejected, 2 processed" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["risk", "score", "/nonexistent.jsonl"], "events file /nonexistent.jsonl not found"),
        (["risk", "score", "{sim}", "--model", "/nope.json"], "not found"),
        (["risk", "score", "{sim}", "--model", "{sim}", "--no-model"], "exclude each other"),
        (["risk", "score", "{sim}", "--rules", "{bad_rules}"], "bad.rules:2:9: unknown field"),
        (["risk", "score", "{sim}", "--lists", "{bad_list}"], "line 2: kind must be"),
        (["risk", "score", "{sim}", "--state", "{bad_rules}"], "cannot read state file"),
        (["risk", "eval", "{sim}", "--holdout-days", "0"], "--holdout-days must be positive"),
        (["risk", "train", "{sim}", "--out", "/no/dir/m.json"], "does not exist"),
        (["risk", "rules", "check", "{bad_rules}"], "unknown field 'amount_cn'"),
        (["risk", "profile", "acct_x", "--state", "/nope"], "state file /nope not found"),
        (["bench", "risk", "--events", "5"], "--events must be between"),
    ],
)
def test_unusable_input_exits_2(
    argv: list[str], needle: str, sim_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_rules = tmp_path / "bad.rules"
    bad_rules.write_text("version 1\nrule r: amount_cn > 1 => block\n")
    bad_list = tmp_path / "bad.csv"
    bad_list.write_text("list,kind,value\nblock,phone,123\n")
    subs = {"{sim}": str(sim_file), "{bad_rules}": str(bad_rules), "{bad_list}": str(bad_list)}
    code = main([subs.get(a, a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err
    assert "Traceback" not in err


def test_state_file_round_trip_and_profile(sim_file: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state.json"
    assert main(["risk", "score", str(sim_file), "--state", str(state), "--no-model"]) == 0
    payer = orjson.loads(sim_file.read_bytes().splitlines()[0])["payer"]
    capsys.readouterr()
    assert main(["risk", "profile", payer, "--state", str(state)]) == 0
    assert orjson.loads(capsys.readouterr().out)["account"] == payer
    assert main(["risk", "profile", "acct_unknown", "--state", str(state)]) == 1


def test_eval_json(sim_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", "eval", str(sim_file), "--json", "--holdout-days", "4"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    overall = report["overall"]
    assert overall["fraud_events"] > 0
    for key in ("auprc", "baseline_amount_auprc", "recall_at_1pct_fpr", "flagged_precision"):
        assert key in overall
    assert "card_testing" in report["by_fraud_type"]


def test_backtest(sim_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "r.rules"
    rules.write_text(
        "version 7\nrule tiny: payer_cnt_1h >= 3 => block\n"
        "shadow rule big: amount_cny > 5000 => review\n"
    )
    assert main(["risk", "backtest", str(rules), str(sim_file), "--no-model", "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["rules_version"] == 7
    by_name = {r["name"]: r for r in report["rules"]}
    assert by_name["tiny"]["hits"] > 0 and by_name["big"]["shadow"]
    assert report["without_rules"]["flagged"] == 0
    assert report["with_rules"]["flagged"] == by_name["tiny"]["hits"]


def test_lists_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "l.csv"
    src.write_text("list,kind,value,reason,added\nblock,ip,6.6.6.6,botnet,\n")
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["risk", "lists", "check", str(src)]) == 0
    assert "block,ip,6.6.6.6,botnet," in capsys.readouterr().out
    assert main(["risk", "lists", "import", str(src), "--db", db]) == 0
    assert "1 added" in capsys.readouterr().out
    out = tmp_path / "out.csv"
    assert main(["risk", "lists", "export", "--db", db, "--out", str(out)]) == 0
    assert out.read_text() == "list,kind,value,reason,added\nblock,ip,6.6.6.6,botnet,\n"
    events = write(tmp_path / "e.jsonl", [orjson.dumps(make(t=1, ip="6.6.6.6"))])
    assert main(["risk", "score", str(events), "--db", db]) == 0
    assert lines_of(capsys.readouterr().out)[0]["reasons"] == ["list:block:ip"]
    assert main(["risk", "score", str(events), "--db", "mysql://x/y"]) == 2
    assert "unsupported database URL" in capsys.readouterr().err


def test_rules_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["risk", "rules", "show-default"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "d.rules"
    path.write_text(text)
    assert main(["risk", "rules", "check", str(path)]) == 0
    assert "version 1" in capsys.readouterr().out


def test_train_cli(sim_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.json"
    argv = ["risk", "train", str(sim_file), "--out", str(out), "--trees", "10", "--version", "t1"]
    assert main(argv) == 0
    assert orjson.loads(capsys.readouterr().out)["version"] == "t1"
    assert main(["risk", "score", str(sim_file), "--model", str(out)]) == 0


def test_bench_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "risk", "--events", "300", "--json"]) == 0
    result = orjson.loads(capsys.readouterr().out)
    for key in ("latency_ms_p50", "latency_ms_p99", "events_per_s", "rules_only_events_per_s",
                "rules_only_latency_ms_p99"):  # fmt: skip
        assert result[key] > 0
