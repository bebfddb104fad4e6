"""QR code images of a payload, SVG and PNG, with segno (pure Python).

Error correction is M (15% of the code may be damaged), the level EMV QR payment codes are
printed with; segno is told not to raise it, so the same payload always gives the same image.
Non-ASCII text is written as UTF-8, the encoding the payload's CRC is computed over.
"""

from __future__ import annotations

import io

import segno

DEFAULT_SCALE = 8  # pixels (PNG) or user units (SVG) per module
QUIET_ZONE = 4  # modules of margin, as ISO/IEC 18004 requires


def _code(payload: str) -> segno.QRCode:
    return segno.make_qr(payload, error="m", encoding="utf-8", boost_error=False)


def svg(payload: str, scale: int = DEFAULT_SCALE) -> bytes:
    out = io.BytesIO()
    _code(payload).save(out, kind="svg", scale=scale, border=QUIET_ZONE, xmldecl=True)
    return out.getvalue()


def png(payload: str, scale: int = DEFAULT_SCALE) -> bytes:
    out = io.BytesIO()
    _code(payload).save(out, kind="png", scale=scale, border=QUIET_ZONE)
    return out.getvalue()
