"""CLI flow: aml scan -> cases import -> investigate -> four eyes -> STR; kyc commands."""

from __future__ import annotations

import orjson

from rongpay.cli import main

from .factories import ev, jsonl


def test_case_flow_through_the_cli(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    events = tmp_path / "events.jsonl"
    events.write_bytes(jsonl([ev(0, "topup", 48_500, "a"), ev(20, "topup", 46_000, "a")]))
    alerts = tmp_path / "alerts.jsonl"
    assert main(["aml", "scan", str(events), "--quiet"]) == 0
    alerts.write_text(capsys.readouterr().out, encoding="utf-8")
    base = ["--db", db]
    assert (
        main(["cases", "import", str(alerts), "--events", str(events), "--by", "sys", *base]) == 0
    )
    assert "CASE-000001" in capsys.readouterr().out
    assert main(["cases", "start", "CASE-000001", "--by", "ana", *base]) == 0
    evidence = ["cases", "evidence", "CASE-000001", "--events", str(events), "--by", "ana"]
    assert main([*evidence, "--id", "nope", *base]) == 2
    first_id = orjson.loads(events.read_bytes().splitlines()[0])["id"]
    assert main([*evidence, "--id", first_id, *base]) == 0
    assert (
        main(["cases", "note", "CASE-000001", "--by", "ana", "--text", "two top-ups", *base]) == 0
    )
    close = ["cases", "close", "CASE-000001", "--as", "reported", "--reason", "file it", *base]
    assert main([*close, "--by", "ana"]) == 5
    assert "four_eyes" in capsys.readouterr().err
    assert main([*close, "--by", "mlro"]) == 0
    assert (
        main(["reports", "str", "CASE-000001", "--by", "mlro", "--out", str(tmp_path), *base]) == 0
    )
    assert (tmp_path / "STR-000001.json").exists() and (tmp_path / "STR-000001.html").exists()
    capsys.readouterr()
    assert main(["cases", "show", "CASE-000001", "--json", *base]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["status"] == "closed_reported"
    assert [a["action"] for a in shown["actions"]][-2:] == ["closed", "report_generated"]
    assert main(["cases", "show", "CASE-000404", *base]) == 2
    assert main(["cases", "list", "--status", "nope", *base]) == 2


def test_kyc_commands(capsys):
    assert main(["kyc", "check", "--tier", "basic", "--amount", "100 CNY"]) == 0
    assert main(["kyc", "check", "--tier", "basic", "--amount", "6000 CNY"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert orjson.loads(out[1])["reason"] == "exceeds_transaction_limit"
    assert main(["kyc", "check", "--tier", "gold", "--amount", "1 CNY"]) == 2
    assert main(["kyc", "check", "--tier", "basic", "--amount", "1.234 CNY"]) == 2
    assert main(["kyc", "doc", "iban", "DE89370400440532013000"]) == 0
    assert main(["kyc", "doc", "cn_resident_id", "110105194912310021"]) == 1


def test_bad_out_dir_is_refused_before_anything_is_recorded(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'c.db'}"
    args = ["reports", "complaints", "--from", "2026-11-01", "--to", "2026-12-01", "--by", "ops"]
    assert main([*args, "--out", str(tmp_path / "missing"), "--db", db]) == 2
    assert "not a writable directory" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path), "--db", db]) == 0
    assert (tmp_path / "CMPR-000001.json").exists(), "the refused run used no report id"
