"""`rongpay aml scan|eval`: JSON contract, bad lines named and skipped, exit codes."""

from __future__ import annotations

import orjson

from rongpay.cli import main

from .factories import ev, jsonl


def _flow() -> list[dict]:
    return [
        ev(0, "topup", 48_500, "a", label_aml="structuring", label_aml_case="k1"),
        ev(20, "topup", 46_000, "a", label_aml="structuring", label_aml_case="k1"),
        ev(21, "payment", 35, "b", "shop", mcc="5411"),
        ev(22, "transfer", 80_000, "p", "q", label_aml="cycle", label_aml_case="k2"),
        ev(23, "transfer", 79_000, "q", "r", label_aml="cycle", label_aml_case="k2"),
        ev(24, "transfer", 78_000, "r", "p", label_aml="cycle", label_aml_case="k2"),
        ev(25, "transfer", 300, "u", "v"),
    ]


def test_scan_prints_one_json_line_per_alert(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    path.write_bytes(jsonl(_flow()))
    assert main(["aml", "scan", str(path)]) == 0
    out, err = capsys.readouterr()
    alerts = [orjson.loads(line) for line in out.splitlines()]
    # the cycle's middle hops also pass straight through their accounts
    assert {a["scenario"] for a in alerts} >= {"structuring", "cycle", "pass_through"}
    for a in alerts:
        assert {"alert_id", "scenario", "accounts", "transactions", "score", "summary"} <= set(a)
    assert f"scanned 7 events, {len(alerts)} alerts" in err


def test_scan_names_bad_lines_and_goes_on(tmp_path, capsys):
    good = jsonl(_flow()).splitlines()
    bad_lines = [
        b"{not json",
        b"[1, 2]",
        orjson.dumps({**_flow()[0], "id": "z1", "currency": "XYZ"}),
        orjson.dumps({**_flow()[0], "id": "z2", "payee_country": "ZZ"}),
        orjson.dumps({**_flow()[0], "id": "z3", "amount_minor": -5}),
        orjson.dumps({**_flow()[0], "id": "z4", "ts": "yesterday"}),
        orjson.dumps({**_flow()[0], "id": "z5", "type": "gift"}),
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(good[:1] + bad_lines + good[1:]) + b"\n")
    assert main(["aml", "scan", str(path)]) == 4
    out, err = capsys.readouterr()
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(jsonl(_flow()))
    assert main(["aml", "scan", str(clean), "--quiet"]) == 0
    assert len(out.splitlines()) == len(capsys.readouterr().out.splitlines())
    for n, needle in [
        (2, "not valid JSON"),
        (3, "not a JSON object"),
        (4, "unknown currency 'XYZ'"),
        (5, "unknown country 'ZZ'"),
        (6, "amount_minor"),
        (7, "not RFC 3339"),
        (8, "'type' must be one of"),
    ]:
        assert f"line {n}: " in err and needle in err


def test_scan_missing_file_and_bad_param(tmp_path, capsys):
    assert main(["aml", "scan", str(tmp_path / "none.jsonl")]) == 2
    path = tmp_path / "e.jsonl"
    path.write_bytes(jsonl(_flow()))
    assert main(["aml", "scan", str(path), "--param", "cycle.max_length=x"]) == 2
    ratings = tmp_path / "r.csv"
    ratings.write_text("account,rating\na,extreme\n", encoding="utf-8")
    assert main(["aml", "scan", str(path), "--ratings", str(ratings)]) == 2
    err = capsys.readouterr().err
    assert "cannot read events" in err and "not a whole number" in err and "line 2" in err


def test_eval_reports_recall_and_precision(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    path.write_bytes(jsonl(_flow()))
    assert main(["aml", "eval", str(path), "--json", "--check"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["recall"]["structuring"] == {"cases": 1, "detected": 1, "recall": 1.0}
    assert report["recall"]["cycle"]["recall"] == 1.0
    assert report["precision"] == 1.0 and report["meets_targets"] is True


def test_eval_check_fails_when_a_case_is_missed(tmp_path, capsys):
    flow = [*_flow(), ev(30, "transfer", 100, "m", "n", label_aml="fan_in", label_aml_case="k3")]
    path = tmp_path / "events.jsonl"
    path.write_bytes(jsonl(flow))
    assert main(["aml", "eval", str(path), "--check"]) == 1
    assert "targets missed" in capsys.readouterr().out
