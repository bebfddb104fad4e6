"""The outside reference payloads (shared/anchors/emvqr/samples.txt), entry by entry."""

from __future__ import annotations

import pytest

from rongpay.qr import emv
from rongpay.qr.errors import QrError, QrErrorCode

from .qrhelp import samples


def test_the_file_has_both_kinds() -> None:
    entries = samples()
    assert sum(s.crc_ok for s in entries) >= 20
    assert sum(not s.crc_ok for s in entries) >= 4


def test_every_crc_ok_payload_decodes_verifies_and_reencodes_exactly() -> None:
    for s in samples():
        if not s.crc_ok:
            continue
        d = emv.decode(s.payload)
        assert d.crc_valid and d.crc == s.payload[-4:], s.source
        assert d.objects[-1].tag == "63"
        assert emv.encode(d) == s.payload, s.source
        assert emv.encode(d.objects) == s.payload


def test_every_other_entry_is_rejected_with_a_reason_code() -> None:
    for s in samples():
        if s.crc_ok:
            continue
        with pytest.raises(QrError) as info:
            emv.decode(s.payload)
        assert info.value.code in set(QrErrorCode), s.status
        assert info.value.message
        if s.status.startswith("NO_CRC_TAG"):
            assert info.value.code == QrErrorCode.CRC_MISSING
        if s.status.startswith("CRC_MISMATCH"):
            assert info.value.code == QrErrorCode.CRC_MISMATCH


def test_every_crc_ok_payload_also_decodes_through_the_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from rongpay.cli import main

    for s in samples():
        code = main(["qr", "decode", s.payload, "--json"])
        out = capsys.readouterr().out
        body = json.loads(out)
        if s.crc_ok:
            assert code == 0 and body["crc_valid"] is True, s.source
        else:
            assert code == 1 and body["error"]["code"], s.source
