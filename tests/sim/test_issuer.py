"""The sandbox issuer: its books (pure), its server's handling of bad input, and the real
`rongpay sandbox issuer` process."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rongpay.payments.channels.card import CardNetwork, CardOutcome
from rongpay.security.cards import CardDetails
from rongpay.sim.issuer import IssuerConfig, IssuerServer
from rongpay.sim.issuer_book import IssuerBook
from rongpay.wire import iso8583 as wire

PAN = "4242424242424242"
ACQ = "123456"


def request(mti: str, stan: str, amount: int, *, pan: str = PAN, **extra: str) -> dict[str, str]:
    msg = {
        "t": mti, "2": pan, "3": "000000", "4": f"{amount:012d}", "7": "1125120000",
        "11": stan, "14": "3012", "22": "010", "32": ACQ, "41": "TERM0001",
        "42": "merchant_1     ", "49": "840",
    }  # fmt: skip
    msg.update(extra)
    return msg


def original(mti: str, stan: str) -> str:
    return wire.OriginalData(mti, stan, "1125120000", ACQ).encode()


def answer(book: IssuerBook, msg: dict[str, str]) -> dict[str, str]:
    response = book.handle(msg).response
    assert response is not None
    return response


def test_hold_completion_refund_reversal_ledger():
    book = IssuerBook(default_balance_minor=10_000)
    account = book.account(PAN)
    auth = answer(book, request("0100", "000001", 4000))
    assert auth["39"] == "00" and auth["t"] == "0110" and "2" not in auth
    assert (account.balance("USD"), account.available("USD")) == (10_000, 6_000)
    cap = answer(
        book,
        request("0200", "000002", 2500, **{"37": auth["37"], "90": original("0100", "000001")}),
    )
    assert cap["39"] == "00" and cap["37"] == auth["37"]
    assert (account.balance("USD"), account.available("USD")) == (7_500, 7_500)
    refund = request("0200", "000003", 1000, **{"3": "200000", "37": auth["37"]})
    assert answer(book, refund)["39"] == "00"
    assert account.balance("USD") == 8_500
    too_much = request("0200", "000004", 1501, **{"3": "200000", "37": auth["37"]})
    assert answer(book, too_much)["39"] == "13"
    # Reverse the refund, then the completion: back to where the hold was released.
    for stan, target in (
        ("000005", original("0200", "000003")),
        ("000006", original("0200", "000002")),
    ):
        reversal = request("0400", stan, 0, **{"90": target})
        assert answer(book, reversal)["39"] == "00"
        assert answer(book, {**reversal, "t": "0401"})["39"] == "00"  # a repeat changes nothing
    assert (account.balance("USD"), account.available("USD")) == (10_000, 10_000)  # fmt: skip


def test_insufficient_funds_and_holds_count():
    book = IssuerBook(default_balance_minor=5_000)
    assert answer(book, request("0100", "000001", 3000))["39"] == "00"
    assert answer(book, request("0100", "000002", 3000))["39"] == "51"
    assert answer(book, request("0100", "000003", 2000))["39"] == "00"
    assert answer(book, request("0100", "000004", 1, pan="4000000000009995"))["39"] == "51"


def test_unknown_originals_and_wrong_cards():
    book = IssuerBook()
    lost = request("0400", "000009", 100, **{"90": original("0100", "000001")})
    assert answer(book, lost)["39"] == "25"  # never received: nothing to undo
    unknown = {"37": "999999999999", "90": original("0100", "000042")}
    assert answer(book, request("0200", "000002", 100, **unknown))["39"] == "25"
    auth = answer(book, request("0100", "000003", 100))
    other = request(
        "0200", "000004", 100, pan="5555555555554444", **{"37": auth["37"], "90": "0" * 42}
    )
    assert answer(book, other)["39"] == "12"


def test_expired_card_by_date_and_the_authenticated_flag():
    book = IssuerBook()
    assert answer(book, request("0100", "000001", 100, **{"14": "2001"}))["39"] == "54"
    pan = "4000002500003155"
    assert answer(book, request("0100", "000002", 100, pan=pan))["39"] == "1A"
    flagged = request("0100", "000003", 100, pan=pan, **{"48": "AU01Y"})
    assert answer(book, flagged)["39"] == "00"


def test_no_answer_card_acts_but_stays_silent():
    book = IssuerBook()
    outcome = book.handle(request("0100", "000001", 700, pan="4000000000000408"))
    assert outcome.response is None
    assert book.account("4000000000000408").available("USD") == book.default_balance_minor - 700


def test_chargeback_advice():
    book = IssuerBook()
    sale = book.handle(request("0200", "000001", 900, pan="4000000000000259"))
    assert sale.dispute is not None
    advice = book.chargeback(sale.dispute)
    assert advice is not None
    assert (
        advice["t"] == "0422" and advice["37"] == sale.dispute.rrn and advice["4"].endswith("900")
    )
    wire.decode(wire.encode(advice)[2:])
    assert book.chargeback(sale.dispute) is None  # once only
    assert book.account("4000000000000259").balance("USD") == book.default_balance_minor


async def _raw_exchange(port: int, payloads: list[bytes]) -> list[dict[str, str]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    for payload in payloads:
        writer.write(payload)
        body = await asyncio.wait_for(wire.read_frame(reader), 5)
        assert body is not None
        answers.append(wire.decode(body))
    writer.close()
    await writer.wait_closed()
    return answers


def test_server_answers_format_errors_and_survives_bad_frames(caplog):
    async def go() -> None:
        server = IssuerServer(IssuerConfig(latency_ms=0.0))
        port = await server.start()
        try:
            bad = wire.encode(request("0100", "000077", 100, **{"4": "00000000x100"}))
            echo = wire.encode({"t": "0800", "7": "1125120000", "11": "000078", "70": "301"})
            good = wire.encode(request("0100", "000079", 100))
            answers = await _raw_exchange(port, [bad, good, echo])
            assert [(a["t"], a["11"], a["39"]) for a in answers] == [
                ("0110", "000077", "30"),
                ("0110", "000079", "00"),
                ("0810", "000078", "00"),
            ]
            # A hostile length header closes that connection only.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"\xff\xff" + b"x" * 32)
            assert await asyncio.wait_for(reader.read(), 5) == b""
            writer.close()
            assert (await _raw_exchange(port, [echo]))[0]["39"] == "00"
        finally:
            await server.close()

    caplog.set_level(logging.DEBUG)
    asyncio.run(go())
    assert PAN not in caplog.text
    assert "424242******4242" in caplog.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_real_process():
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rongpay", "sandbox", "issuer", "--port", str(port),
         "--latency-ms", "1"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"listening on 127.0.0.1:{port}" in line and "simulated" in line

        async def go() -> tuple[CardOutcome, CardOutcome]:
            net = CardNetwork("127.0.0.1", port, timeout_s=5.0)
            await net.start()
            try:
                card = CardDetails(PAN, 12, 2030, "123")
                params = {
                    "amount_minor": 1234, "currency": "EUR", "merchant_id": "m_1",
                    "mcc": "5411", "entry_mode": "chip", "authenticated": False,
                    "reference": "pi_1", "capture": True,
                }  # fmt: skip
                ok = await net.authorize(card, **params)  # type: ignore[arg-type]
                declined = await net.authorize(
                    CardDetails("4000000000000002", 12, 2030, None),
                    **params,  # type: ignore[arg-type]
                )
                return ok.outcome, declined.outcome
            finally:
                await net.close()

        assert asyncio.run(go()) == (CardOutcome.APPROVED, CardOutcome.DECLINED)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == 130


@pytest.mark.parametrize("args", [["--port", "70000"], ["--drop-rate", "2"], ["--latency-ms", "x"]])
def test_cli_refuses_bad_options(args, capsys):
    from rongpay.cli import main

    with pytest.raises(SystemExit) as info:
        main(["sandbox", "issuer", *args])
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err
