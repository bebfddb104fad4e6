"""`rongpay screen`: JSON contract, readable output, exit codes for bad input."""

from __future__ import annotations

import orjson

from rongpay.cli import main
from rongpay.compliance.screening_service import SAMPLE_LIST

LIST = str(SAMPLE_LIST)


def test_json_one_line_per_name_best_first(capsys):
    code = main(["screen", "--list", LIST, "--name", "习近平", "--name", "Grace Hopper", "--json"])
    assert code == 0
    lines = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["name"] for x in lines] == ["习近平", "Grace Hopper"]
    first = lines[0]["matches"][0]
    assert first["id"] == "rp-0005" and first["caption"] == "Xi Jinping"
    assert first["match"] is True and 0.0 <= first["score"] <= 1.0
    assert lines[1]["matches"] == []


def test_names_file_and_text_output(tmp_path, capsys):
    names = tmp_path / "names.txt"
    names.write_text("Wladimir Putin\nJohn Smith\n", encoding="utf-8")
    assert main(["screen", "--list", LIST, "--names", str(names)]) == 0
    out = capsys.readouterr().out
    assert "MATCH" in out and "rp-0001" in out and "no match" in out


def test_fail_on_match_and_threshold(capsys):
    args = ["screen", "--list", LIST, "--name", "Basher al Asad", "--fail-on-match"]
    assert main(args) == 1
    assert main([*args, "--threshold", "0.99"]) == 0


def test_bad_lines_in_names_file_are_named_and_rest_screened(tmp_path, capsys):
    names = tmp_path / "names.txt"
    names.write_text("Vladimir Putin\n\n???\nXi Jinping\n", encoding="utf-8")
    assert main(["screen", "--list", LIST, "--names", str(names), "--json"]) == 4
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert "line 2: empty name" in captured.err and "line 3:" in captured.err


def test_malformed_list_exit_3(tmp_path, capsys):
    bad = tmp_path / "list.csv"
    bad.write_text("id,name\n1,\n", encoding="utf-8")
    assert main(["screen", "--list", str(bad), "--name", "x"]) == 3
    assert "line 2" in capsys.readouterr().err


def test_unreadable_names_file_and_bad_option(tmp_path, capsys):
    assert main(["screen", "--list", LIST, "--names", str(tmp_path / "none.txt")]) == 2
    assert main(["screen", "--list", LIST, "--name", "x", "--country", "Narnia"]) == 2
    err = capsys.readouterr().err
    assert "cannot read names file" in err and "ISO 3166" in err
