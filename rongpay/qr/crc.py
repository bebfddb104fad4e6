"""The checksum of an EMV QR payload: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF).

It covers the UTF-8 bytes of the payload up to and including the CRC's own id and length
("6304"), and is written as 4 uppercase hex digits. Check value: crc16(b"123456789") == 0x29B1.
"""

from __future__ import annotations

POLY = 0x1021
INIT = 0xFFFF
CRC_PREFIX = "6304"  # tag 63, length 04: always the last data object


def _table() -> tuple[int, ...]:
    rows = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ POLY) if crc & 0x8000 else crc << 1
        rows.append(crc & 0xFFFF)
    return tuple(rows)


_TABLE = _table()


def crc16(data: bytes, crc: int = INIT) -> int:
    """CRC-16/CCITT-FALSE of DATA (no reflection, no final xor)."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[(crc >> 8) ^ byte]
    return crc


def checksum(text_through_prefix: str) -> str:
    """The 4 hex digits for a payload whose text so far ends with "6304"."""
    return f"{crc16(text_through_prefix.encode('utf-8')):04X}"
