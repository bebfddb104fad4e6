"""The CRC-16/CCITT-FALSE of EMV QR payloads."""

from __future__ import annotations

from rongpay.qr.crc import checksum, crc16

from .qrhelp import EMVCO_EXAMPLE


def test_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1


def test_empty_input_is_the_initial_value() -> None:
    assert crc16(b"") == 0xFFFF


def test_the_emvco_example_checksum_covers_utf8_bytes_through_6304() -> None:
    assert checksum(EMVCO_EXAMPLE[:-4]) == "A13A"
    # over the characters' code points (not UTF-8) it would differ: the bytes matter
    latin = EMVCO_EXAMPLE[:-4].encode("utf-16-be")
    assert f"{crc16(latin):04X}" != "A13A"


def test_checksum_is_four_uppercase_hex_digits() -> None:
    for text in ("6304", "000201" * 20 + "6304", "é6304"):
        found = checksum(text)
        assert len(found) == 4 and found == found.upper()
        assert int(found, 16) == crc16(text.encode())
