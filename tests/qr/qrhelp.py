"""Shared pieces of the QR tests: the anchor samples, and payloads with a correct CRC."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from rongpay.qr.crc import CRC_PREFIX, checksum


def _anchors() -> Path:
    """$RONGPAY_ANCHORS, else `../shared/anchors` beside the checkout (the project's layout),
    else the machine's /work/shared/anchors (a fresh clone elsewhere, as CI makes)."""
    given = os.environ.get("RONGPAY_ANCHORS")
    if given:
        return Path(given)
    beside = Path(__file__).resolve().parents[3] / "shared" / "anchors"
    machine = Path("/work/shared/anchors")
    return beside if beside.exists() or not machine.exists() else machine


ANCHORS = _anchors()
SAMPLES = ANCHORS / "emvqr" / "samples.txt"

# The EMVCo v1.1 worked example (first sample): two account templates, the language
# template in Chinese, additional data, an unreserved template.
EMVCO_EXAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN"
    "5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412"
    "340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A"
)
PROMPTPAY = "00020101021129370016A000000677010111011300668012345675802TH530376463046197"


@dataclass(frozen=True)
class Sample:
    status: str
    scheme: str
    source: str
    payload: str

    @property
    def crc_ok(self) -> bool:
        return self.status == "CRC_OK"


def samples() -> list[Sample]:
    """Every entry: a `status TAB scheme TAB source` line, the payload on the next line."""
    if not SAMPLES.exists():
        pytest.skip(f"anchor samples not found at {SAMPLES} (set RONGPAY_ANCHORS)")
    lines = [
        line
        for line in SAMPLES.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    out = []
    for head, payload in zip(lines[::2], lines[1::2], strict=True):
        status, scheme, source = head.split("\t")
        out.append(Sample(status, scheme, source, payload))
    return out


def with_crc(body: str) -> str:
    """BODY (everything before the CRC) with a correct 6304 CRC appended."""
    text = body + CRC_PREFIX
    return text + checksum(text)


# A minimal well-formed body: format, account template, MCC, currency, country, name, city.
BASE = (
    "000201" + "26160004test0104abcd" + "52045812" + "5303156" + "5802CN" + "5904SHOP" + "6004CITY"
)
