"""QR code images: SVG and PNG bytes of a payload, error correction M."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

import segno

from rongpay.qr import image

from .qrhelp import EMVCO_EXAMPLE, PROMPTPAY


def test_error_correction_is_m_and_non_ascii_goes_out_as_utf8() -> None:
    code = image._code(EMVCO_EXAMPLE)
    assert code.error == "M" and not code.is_micro
    utf8 = segno.make_qr(EMVCO_EXAMPLE, error="m", encoding="utf-8", boost_error=False)
    assert code.matrix == utf8.matrix


def test_png_is_a_png_of_the_symbol_size() -> None:
    data = image.png(PROMPTPAY, scale=3)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    modules = image._code(PROMPTPAY).symbol_size(scale=1, border=image.QUIET_ZONE)[0]
    assert width == height == modules * 3


def test_svg_is_an_svg_document() -> None:
    data = image.svg(EMVCO_EXAMPLE)
    root = ET.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    modules = image._code(EMVCO_EXAMPLE).symbol_size(scale=1, border=image.QUIET_ZONE)[0]
    assert root.get("width") == str(modules * image.DEFAULT_SCALE)


def test_the_same_payload_gives_the_same_bytes() -> None:
    assert image.png(PROMPTPAY) == image.png(PROMPTPAY)
    assert image.svg(PROMPTPAY) != image.svg(EMVCO_EXAMPLE)
