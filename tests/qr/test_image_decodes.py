"""The QR images rongpay draws decode back to their payload with an independent reader
(zbarimg, from Debian's zbar-tools, which .ci/run installs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from rongpay.qr import image
from rongpay.qr.merchant import Account, AdditionalData, MerchantQr, build

ZBAR = shutil.which("zbarimg")
PAYLOADS = [
    build(MerchantQr(merchant_name="BEST TRANSPORT", merchant_city="BEIJING", country="CN",
                     mcc="4111", currency="CNY", amount_minor=2372,
                     accounts=(Account(gui="com.rongpay", fields=(("01", "acct_x"),)),),
                     additional=AdditionalData(bill_number="1234"))),
    build(MerchantQr(merchant_name="Demo Bookshop", merchant_city="Portland", country="US",
                     mcc="5942", currency="USD",
                     accounts=(Account(gui="com.rongpay", fields=(("01", "acct_y"),)),))),
]  # fmt: skip


@pytest.mark.skipif(ZBAR is None, reason="zbarimg (zbar-tools) not installed")
@pytest.mark.parametrize("payload", PAYLOADS)
def test_png_decodes_to_the_payload(tmp_path: Path, payload: str) -> None:
    png = tmp_path / "code.png"
    png.write_bytes(image.png(payload))
    out = subprocess.run([str(ZBAR), "--raw", "-q", str(png)], capture_output=True, text=True,
                         check=True, timeout=30)  # fmt: skip
    assert out.stdout.strip() == payload
