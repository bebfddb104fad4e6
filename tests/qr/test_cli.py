"""`rongpay qr decode|encode` as a user types them: output, exit codes, no tracebacks."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rongpay.cli import main
from rongpay.qr import emv

from .qrhelp import BASE, EMVCO_EXAMPLE, PROMPTPAY, with_crc

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    def _run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def test_decode_prints_every_tag_nested_ones_too_and_the_crc(run: Run) -> None:
    code, out, err = run("qr", "decode", EMVCO_EXAMPLE)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["00", "Payload", "Format", "Indicator", "01"]
    assert any(line.startswith("  01 Merchant Name - Alternate Language") and "最佳运输" in line
               for line in lines)  # fmt: skip
    assert any(line.startswith("53 ") and "[CNY]" in line for line in lines)
    assert any(line.startswith("  00 Globally Unique Identifier") for line in lines)
    assert lines[-1] == "CRC A13A: valid"
    assert len([x for x in lines if not x.startswith(("CRC", "warning"))]) == 15 + 2 + 2 + 3 + 4 + 2


def test_decode_json(run: Run) -> None:
    code, out, _ = run("qr", "decode", EMVCO_EXAMPLE, "--json")
    body = json.loads(out)
    assert code == 0
    assert body["crc_valid"] is True and body["crc"] == "A13A"
    assert body["currency"] == "CNY" and body["amount"] == 2372 and body["amount_text"] == "23.72"
    assert body["merchant_name"] == "BEST TRANSPORT"
    assert [a["gui"] for a in body["accounts"]] == ["D15600000000", "D15600000001"]
    language = next(t for t in body["tags"] if t["id"] == "64")
    assert language["tags"][1] == {"id": "01", "name": "Merchant Name - Alternate Language",
                                   "length": 4, "value": "最佳运输"}  # fmt: skip


def test_decode_reads_stdin_with_a_dash(run: Run) -> None:
    code, out, _ = run("qr", "decode", "-", "--json", stdin=PROMPTPAY + "\n")
    body = json.loads(out)
    assert code == 0 and body["payload"] == PROMPTPAY
    assert [w["tag"] for w in body["warnings"]] == ["52", "59", "60"]


def test_decode_refusal_exits_1_with_the_reason(run: Run) -> None:
    code, out, err = run("qr", "decode", EMVCO_EXAMPLE[:-1] + "B")
    assert code == 1 and out == ""
    assert err.startswith("rongpay: crc_mismatch: ") and "'A13A'" in err
    assert "Traceback" not in err
    code, out, err = run("qr", "decode", with_crc(BASE + "61991"), "--json")
    assert code == 1 and "malformed_tlv" in err
    assert json.loads(out) == {
        "crc_valid": True,
        "error": {"code": "malformed_tlv", "message": err.strip().split(": ", 2)[2],
                  "tag": None, "position": len(BASE)},
    }  # fmt: skip


def test_decode_strict(run: Run) -> None:
    code, _, err = run("qr", "decode", PROMPTPAY, "--strict")
    assert code == 1 and err.startswith("rongpay: missing_tag: ")


def test_encode_prints_a_payload_that_decodes(run: Run) -> None:
    code, out, err = run(
        "qr", "encode", "--name", "BEST TRANSPORT", "--city", "BEIJING", "--country", "CN",
        "--mcc", "4111", "--currency", "CNY", "--amount", "23.72",
        "--account", "D15600000000:A93FO3230Q", "--bill-number", "1234", "--reference", "R-1",
        "--alt-language", "ZH", "--alt-name", "最佳运输",
    )  # fmt: skip
    assert code == 0 and err == ""
    payload = out.strip()
    d = emv.decode(payload, strict=True)
    assert emv.amount_minor(d) == 2372 and d.point_of_initiation == "dynamic"
    account = d.get("26")
    assert account is not None and account.child("01") is not None
    extra = d.get("62")
    assert extra is not None and [(c.tag, c.value) for c in extra.children or ()] == [
        ("01", "1234"), ("05", "R-1"),
    ]  # fmt: skip


def test_encode_json_and_images(run: Run, tmp_path: Path) -> None:
    args = ["qr", "encode", "--name", "Shop", "--city", "Bangkok", "--country", "TH",
            "--mcc", "5812", "--currency", "764",
            "--account", "A000000677010111:0066801234567"]  # fmt: skip
    svg, png = tmp_path / "code.svg", tmp_path / "code.png"
    code, out, _ = run(*args, "--json", "--svg", str(svg))
    body = json.loads(out)
    assert code == 0 and body["object"] == "qr_code" and body["currency"] == "THB"
    assert body["point_of_initiation"] == "static" and body["amount"] is None
    assert svg.read_bytes().startswith(b"<?xml")
    code, out, _ = run(*args, "--png", str(png))
    assert code == 0 and out.strip() == body["payload"]
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--currency", "XYZ"], "--currency"),
        (["--amount", "1.234"], "2 decimal place"),
        (["--amount", "ten"], "not a decimal amount"),
        (["--account", "no-colon"], "GUI:VALUE"),
        (["--country", "THA"], "country"),
        (["--name", "x" * 26], "merchant_name"),
        (["--alt-name", "名"], "--alt-language"),
        (["--png", "/nonexistent-dir/x.png"], "cannot write"),
    ],
)
def test_encode_bad_arguments_exit_2(run: Run, extra: list[str], message: str) -> None:
    base = {"--name": "Shop", "--city": "Bangkok", "--country": "TH", "--mcc": "5812",
            "--currency": "THB", "--account": "A000000677010111:0066801234567"}  # fmt: skip
    for option, value in zip(extra[::2], extra[1::2], strict=True):
        base[option] = value
    argv = ["qr", "encode", *[x for pair in base.items() for x in pair]]
    code, out, err = run(*argv)
    assert code == 2 and out == "", err
    assert err.startswith("rongpay: ") and message in err and "Traceback" not in err


def test_encode_without_an_account_is_a_usage_error(run: Run) -> None:
    code, _, err = run("qr", "encode", "--name", "S", "--city", "C", "--country", "TH",
                       "--mcc", "5812", "--currency", "THB")  # fmt: skip
    assert code == 2 and "merchant account" in err
