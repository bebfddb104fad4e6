import pytest

from rongpay.security.signing import SignatureError, sign, verify

BODY = b'{"id":"evt_1"}'


def test_round_trip_and_rotation() -> None:
    header = sign(["new", "old"], BODY, timestamp=1_000)
    assert verify(BODY, header, ["old"], now=1_100) == 1_000
    assert verify(BODY, header, ["new"], now=1_100) == 1_000
    assert header.count("v1=") == 2


@pytest.mark.parametrize(
    ("header", "secrets", "now", "reason"),
    [
        (None, ["s"], 1_000, "no signature header"),
        ("v1=abc", ["s"], 1_000, "needs t="),
        ("t=1000", ["s"], 1_000, "needs t="),
        (sign(["s"], BODY, 1_000), ["s"], 1_301, "tolerance"),
        (sign(["s"], BODY, 1_000), ["other"], 1_000, "no signature matches"),
        (sign(["s"], BODY + b" ", 1_000), ["s"], 1_000, "no signature matches"),
    ],
)
def test_refusals(header: str | None, secrets: list[str], now: int, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(BODY, header, secrets, now=now)
