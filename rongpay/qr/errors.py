"""Why a QR payload or a set of QR fields is refused: one exception, a closed set of codes.

The codes are stable (API responses and `rongpay qr decode` print them) and listed, in the
order the decoder checks them, in docs/reference/qr.md.
"""

from __future__ import annotations

from enum import StrEnum


class QrErrorCode(StrEnum):
    TOO_LONG = "too_long"
    INVALID_CHARACTER = "invalid_character"
    CRC_MISSING = "crc_missing"
    CRC_MISMATCH = "crc_mismatch"
    MALFORMED_TLV = "malformed_tlv"
    PAYLOAD_FORMAT = "payload_format"
    DUPLICATE_TAG = "duplicate_tag"
    INVALID_VALUE = "invalid_value"
    MISSING_TAG = "missing_tag"


class QrError(ValueError):
    """A payload (or fields to encode) that cannot be used.

    `tag` is the data object at fault ("54", or "62.05" inside a template), `position` the
    0-based character offset in the payload, `field` the input field when encoding.
    """

    def __init__(
        self,
        code: QrErrorCode,
        message: str,
        *,
        tag: str | None = None,
        position: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.tag = tag
        self.position = position
        self.field = field
