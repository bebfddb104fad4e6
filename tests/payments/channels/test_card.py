"""The card channel against the sandbox issuer started in-process on a free port: every test
card, the money operations, timeouts with reversals, reconnects, concurrency, chargebacks."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from rongpay.payments.channels.card import CardNetwork, CardOutcome, CardResult, Chargeback
from rongpay.security.cards import CardDetails
from rongpay.sim.issuer import IssuerConfig, IssuerServer
from rongpay.sim.issuer_cards import NO_ANSWER_PAN

FAST = IssuerConfig(latency_ms=0.0, dispute_after_s=0.05, advice_retry_s=0.2, seed=7)
USD = "USD"


def card(pan: str, cvc: str | None = "123") -> CardDetails:
    return CardDetails(pan, 12, 2030, cvc)


@asynccontextmanager
async def sandbox(
    config: IssuerConfig = FAST, **network: Any
) -> AsyncIterator[tuple[IssuerServer, CardNetwork]]:
    issuer = IssuerServer(config)
    port = await issuer.start()
    net = CardNetwork("127.0.0.1", port, timeout_s=network.pop("timeout_s", 2.0), **network)
    await net.start()
    try:
        yield issuer, net
    finally:
        await net.close()
        await issuer.close()


def run(test: Callable[..., Awaitable[None]], *args: Any) -> None:
    asyncio.run(test(*args))


async def authorize(
    net: CardNetwork, pan: str, *, capture: bool = True, amount: int = 1000, **over: Any
) -> CardResult:
    params: dict[str, Any] = {
        "amount_minor": amount,
        "currency": USD,
        "merchant_id": "merchant_1",
        "mcc": "5999",
        "entry_mode": "ecommerce",
        "authenticated": False,
        "reference": "pi_test",
        "capture": capture,
    }
    params.update(over)
    return await net.authorize(card(pan, over.pop("cvc", "123")), **params)


SUCCEED = ["4242424242424242", "5555555555554444", "6200000000000005", "4000000000000259"]
DECLINES = {
    "4000000000000002": ("05", "generic_decline"),
    "4000000000009995": ("51", "insufficient_funds"),
    "4000000000009987": ("41", "lost_card"),
    "4000000000009979": ("43", "stolen_card"),
    "4000000000000069": ("54", "expired_card"),
    "4000000000000127": ("N7", "incorrect_cvc"),
    "4000000000000119": ("96", "processing_error"),
}


@pytest.mark.parametrize("capture", [True, False])
def test_every_test_card(capture):
    async def go() -> None:
        async with sandbox() as (_issuer, net):
            for pan in [*SUCCEED, "4000056655665556"]:
                result = await authorize(net, pan, capture=capture)
                assert result.outcome is CardOutcome.APPROVED, pan
                assert result.response_code == "00" and result.auth_code and result.rrn
                assert not result.reversal_sent
            amex = await net.authorize(
                card("378282246310005", "1234"),
                amount_minor=1000, currency=USD, merchant_id="m", mcc="5999",
                entry_mode="ecommerce", authenticated=False, reference="r", capture=capture,
            )  # fmt: skip
            assert amex.outcome is CardOutcome.APPROVED
            for pan, (code, decline) in DECLINES.items():
                result = await authorize(net, pan, capture=capture)
                assert (result.outcome, result.response_code, result.decline_code) == (
                    CardOutcome.DECLINED,
                    code,
                    decline,
                ), pan
            for pan in ("4000002500003155", "4000002760003184"):
                challenged = await authorize(net, pan, capture=capture)
                assert challenged.outcome is CardOutcome.CHALLENGE_REQUIRED
                assert (challenged.response_code, challenged.decline_code) == (
                    "1A",
                    "authentication_required",
                )
                passed = await authorize(net, pan, capture=capture, authenticated=True)
                assert passed.outcome is CardOutcome.APPROVED
                tapped = await authorize(net, pan, capture=capture, entry_mode="contactless")
                assert tapped.outcome is CardOutcome.APPROVED

    run(go)


def test_hold_capture_partial_refund_and_balances():
    async def go() -> None:
        async with sandbox() as (issuer, net):
            pan = "4242424242424242"
            account = issuer.book.account(pan)
            start = account.balance(USD)
            auth = await authorize(net, pan, capture=False, amount=5000)
            assert account.available(USD) == start - 5000 and account.balance(USD) == start
            too_much = await net.capture(
                card(pan), original=auth, amount_minor=5001, currency=USD,
                merchant_id="merchant_1", reference="cap",
            )  # fmt: skip
            assert (too_much.outcome, too_much.decline_code) == (
                CardOutcome.DECLINED,
                "invalid_amount",
            )
            cap = await net.capture(
                card(pan), original=auth, amount_minor=3000, currency=USD,
                merchant_id="merchant_1", reference="cap",
            )  # fmt: skip
            assert cap.outcome is CardOutcome.APPROVED and cap.rrn == auth.rrn
            assert account.balance(USD) == start - 3000 and account.available(USD) == start - 3000
            again = await net.capture(
                card(pan), original=auth, amount_minor=1000, currency=USD,
                merchant_id="merchant_1", reference="cap2",
            )  # fmt: skip
            assert again.outcome is CardOutcome.DECLINED  # one capture per authorisation
            refund = await net.refund(
                card(pan), original=cap, amount_minor=2000, currency=USD,
                merchant_id="merchant_1", reference="re_1",
            )  # fmt: skip
            assert refund.outcome is CardOutcome.APPROVED
            over = await net.refund(
                card(pan), original=cap, amount_minor=1001, currency=USD,
                merchant_id="merchant_1", reference="re_2",
            )  # fmt: skip
            assert over.decline_code == "invalid_amount"
            assert account.balance(USD) == start - 1000

    run(go)


def test_reversal_releases_a_hold_and_repeats_are_harmless():
    async def go() -> None:
        async with sandbox() as (issuer, net):
            pan = "5555555555554444"
            account = issuer.book.account(pan)
            start = account.available(USD)
            auth = await authorize(net, pan, capture=False, amount=7000)
            assert account.available(USD) == start - 7000
            for _ in range(2):
                reversal = await net.reverse(
                    card(pan), original=auth, amount_minor=7000, currency=USD,
                    merchant_id="merchant_1", reference="cancel",
                )  # fmt: skip
                assert reversal.outcome is CardOutcome.APPROVED
                assert account.available(USD) == start
            # A result rebuilt from storage (RRN only) still reverses a purchase.
            sale = await authorize(net, pan, amount=2500)
            stored = CardResult(
                CardOutcome.APPROVED, "00", None, sale.auth_code, sale.rrn, sale.stan, 0.0, False
            )
            await net.reverse(
                card(pan), original=stored, amount_minor=2500, currency=USD,
                merchant_id="merchant_1", reference="void",
            )  # fmt: skip
            assert account.balance(USD) == start and account.available(USD) == start

    run(go)


def test_insufficient_funds_on_an_ordinary_card():
    async def go() -> None:
        config = IssuerConfig(latency_ms=0.0, default_balance_minor=10_000)
        async with sandbox(config) as (_issuer, net):
            pan = "4000056655665556"
            assert (await authorize(net, pan, amount=6000)).outcome is CardOutcome.APPROVED
            short = await authorize(net, pan, amount=6000)
            assert short.decline_code == "insufficient_funds"
            assert (await authorize(net, pan, amount=4000)).outcome is CardOutcome.APPROVED

    run(go)


def test_timeout_sends_a_reversal_and_releases_the_hold(caplog):
    caplog.set_level(logging.DEBUG)

    async def go() -> None:
        async with sandbox(timeout_s=0.3) as (issuer, net):
            account = issuer.book.account(NO_ANSWER_PAN)
            start = account.available(USD)
            result = await authorize(net, NO_ANSWER_PAN, capture=False, amount=4200)
            assert result.outcome is CardOutcome.TIMEOUT
            assert result.reversal_sent and result.reversal_acknowledged
            assert result.response_code is None and result.rrn is None
            (txn,) = [t for t in issuer.book.by_rrn.values() if t.pan == NO_ANSWER_PAN]
            assert txn.reversed and txn.held_minor == 0
            assert account.available(USD) == start
            sale = await authorize(net, NO_ANSWER_PAN, capture=True, amount=999)
            assert sale.outcome is CardOutcome.TIMEOUT and sale.reversal_sent
            assert account.balance(USD) == start

    run(go)
    assert "reversing" in caplog.text
    assert NO_ANSWER_PAN not in caplog.text and "400000******0408" in caplog.text


def test_unavailable_when_nothing_listens():
    async def go() -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # bound, not listening: connections are refused
            net = CardNetwork("127.0.0.1", port, timeout_s=0.5)
            await net.start()
            try:
                result = await authorize(net, "4242424242424242")
            finally:
                await net.close()
        assert result.outcome is CardOutcome.UNAVAILABLE
        assert not result.reversal_sent and result.stan == ""

    run(go)


def test_reconnects_after_the_issuer_restarts():
    async def go() -> None:
        issuer = IssuerServer(FAST)
        port = await issuer.start()
        net = CardNetwork("127.0.0.1", port, timeout_s=1.0)
        await net.start()
        try:
            assert (await authorize(net, "4242424242424242")).outcome is CardOutcome.APPROVED
            await issuer.close()
            down = await authorize(net, "4242424242424242")
            assert down.outcome in (CardOutcome.UNAVAILABLE, CardOutcome.TIMEOUT)
            issuer = IssuerServer(FAST)
            await issuer.start(port=port)
            outcomes = []
            for _ in range(50):  # bounded: the connector retries the connection itself
                result = await authorize(net, "4242424242424242")
                outcomes.append(result.outcome)
                if result.outcome is CardOutcome.APPROVED:
                    break
                await asyncio.sleep(0.1)
            assert outcomes[-1] is CardOutcome.APPROVED
            assert net.connected
        finally:
            await net.close()
            await issuer.close()

    run(go)


def test_200_concurrent_authorisations_on_one_connection():
    async def go() -> None:
        config = IssuerConfig(latency_ms=5.0, jitter=1.0, seed=3)  # answers come back shuffled
        async with sandbox(config) as (issuer, net):
            pans = ["4242424242424242", "4000000000000002", "4000000000009987"]
            amounts = list(range(1, 201))
            results = await asyncio.gather(
                *(authorize(net, pans[i % 3], amount=a) for i, a in enumerate(amounts))
            )
            stans = {r.stan for r in results}
            assert len(stans) == 200
            for i, result in enumerate(results):
                expected = ("00", "05", "41")[i % 3]
                assert result.response_code == expected
            approved = [r for r in results if r.outcome is CardOutcome.APPROVED]
            for r in approved:
                assert issuer.book.by_rrn[r.rrn].amount_minor == amounts[results.index(r)]

    run(go)


def test_chargeback_is_delivered_and_acknowledged():
    async def go() -> None:
        received: list[Chargeback] = []
        got = asyncio.Event()

        async def on_chargeback(notice: Chargeback) -> None:
            received.append(notice)
            got.set()

        async with sandbox(on_chargeback=on_chargeback) as (issuer, net):
            pan = "4000000000000259"
            account = issuer.book.account(pan)
            start = account.balance(USD)
            auth = await authorize(net, pan, capture=False, amount=3100)
            await net.capture(
                card(pan), original=auth, amount_minor=3100, currency=USD,
                merchant_id="merchant_1", reference="cap",
            )  # fmt: skip
            await asyncio.wait_for(got.wait(), 10)
            await asyncio.sleep(0.3)  # a repeat would arrive here if the ack were lost
        assert received == [Chargeback(auth.rrn or "", 3100, USD, "fraudulent")]
        assert account.balance(USD) == start  # the cardholder got the money back

    run(go)


def test_a_failing_chargeback_handler_makes_the_issuer_repeat():
    async def go() -> None:
        calls: list[str] = []
        done = asyncio.Event()

        async def flaky(notice: Chargeback) -> None:
            calls.append(notice.rrn)
            if len(calls) == 1:
                raise RuntimeError("database down")
            done.set()

        async with sandbox(on_chargeback=flaky) as (_issuer, net):
            sale = await authorize(net, "4000000000000259", amount=100)
            await asyncio.wait_for(done.wait(), 10)
        assert calls == [sale.rrn, sale.rrn]

    run(go)


def test_drops_are_always_reversed():
    async def go() -> None:
        config = IssuerConfig(latency_ms=0.0, drop_rate=0.3, seed=11)
        async with sandbox(config, timeout_s=0.2) as (issuer, net):
            pan = "4242424242424242"
            account = issuer.book.account(pan)
            start = account.balance(USD)
            results = await asyncio.gather(
                *(authorize(net, pan, capture=True, amount=100) for _ in range(40))
            )
            approved = sum(r.outcome is CardOutcome.APPROVED for r in results)
            timeouts = [r for r in results if r.outcome is CardOutcome.TIMEOUT]
            assert timeouts and all(r.reversal_sent for r in timeouts)
            for _ in range(100):  # reversals that were dropped too are retried in the background
                if net.queued_reversals == 0:
                    break
                await asyncio.sleep(0.1)
            assert account.balance(USD) == start - 100 * approved

    run(go)


def test_bad_arguments_are_programmer_errors():
    async def go() -> None:
        async with sandbox() as (_issuer, net):
            with pytest.raises(ValueError, match="entry mode"):
                await authorize(net, "4242424242424242", entry_mode="telepathy")
            with pytest.raises(ValueError, match="mcc"):
                await authorize(net, "4242424242424242", mcc="59")

    run(go)


def test_a_cancelled_call_is_reversed_in_the_background():
    async def go() -> None:
        async with sandbox(IssuerConfig(latency_ms=300.0, jitter=0.0)) as (issuer, net):
            pan = "4242424242424242"
            account = issuer.book.account(pan)
            start = account.balance(USD)
            call = asyncio.ensure_future(authorize(net, pan, amount=5000))
            for _ in range(100):  # until the issuer has taken the money
                if account.balance(USD) != start:
                    break
                await asyncio.sleep(0.01)
            assert account.balance(USD) == start - 5000
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            for _ in range(100):  # the reversal is answered after the latency
                if account.balance(USD) == start:
                    break
                await asyncio.sleep(0.05)
            assert account.balance(USD) == start

    run(go)


def test_unanswered_reversals_are_queued_and_sent_as_advices():
    async def go() -> None:
        lossy = IssuerConfig(latency_ms=0.0, drop_rate=1.0, seed=5)
        async with sandbox(lossy, timeout_s=0.1) as (issuer, net):
            pan = "5555555555554444"
            account = issuer.book.account(pan)
            start = account.balance(USD)
            results = [await authorize(net, pan, amount=800) for _ in range(4)]
            assert all(r.outcome is CardOutcome.TIMEOUT for r in results)
            assert all(r.reversal_sent and not r.reversal_acknowledged for r in results)
            assert net.queued_reversals == 4
            taken = [t for t in issuer.book.by_rrn.values() if t.pan == pan]
            assert taken  # some purchases were taken and never answered
            issuer.config = IssuerConfig(latency_ms=0.0)  # the network heals
            for _ in range(100):
                if net.queued_reversals == 0:
                    break
                await asyncio.sleep(0.1)
            assert net.queued_reversals == 0
            assert account.balance(USD) == start
            assert all(t.reversed for t in taken)
            assert await net.echo()

    run(go)
