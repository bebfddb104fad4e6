"""BankChannel, the gateway's connector, against the sandbox bank on a real port and against
fake transports for the failures a real bank would need to be coaxed into."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rongpay.payments.channels.bank import (
    BankCallback,
    BankChannel,
    BankError,
    BankErrorCode,
    BankRefund,
    BankRefundCallback,
    parse_callback,
)
from rongpay.security.signing import sign
from rongpay.sim.bank import BankConfig
from rongpay.sim.bank_server import serve_in_thread
from tests.sim.test_bank import SECRET, Receiver, fast_config

T = TypeVar("T")

ORDER = {
    "reference": "pi_42",
    "amount_minor": 1234,
    "currency": "BHD",
    "description": "Tea",
    "return_url": "https://shop.example/return",
    "callback_url": "http://127.0.0.1:9/cb",
}
ANSWER = {"id": "bo_abc", "redirect_url": "http://bank/pay/bo_abc", "status": "pending"}


def run(make: Callable[[BankChannel], Awaitable[T]], base: str, **kwargs: Any) -> T:
    """Run one coroutine with a fresh channel, closed afterwards."""

    async def go() -> T:
        channel = BankChannel(base, kwargs.pop("secret", SECRET), **kwargs)
        try:
            return await make(channel)
        finally:
            await channel.close()

    return asyncio.run(go())


def order(**changes: Any) -> dict[str, Any]:
    return {**ORDER, **changes}


@pytest.fixture
def bank() -> Iterator[str]:
    with serve_in_thread(fast_config()) as base:
        yield base


def test_create_get_and_replay(bank: str) -> None:
    async def go(channel: BankChannel) -> None:
        created = await channel.create_order(**order())
        assert created.id.startswith("bo_") and created.status == "pending"
        assert created.redirect_url == f"{bank}/pay/{created.id}"
        assert await channel.create_order(**order()) == created
        assert await channel.get_order(created.id) == created
        with pytest.raises(BankError) as conflict:
            await channel.create_order(**order(amount_minor=1))
        assert conflict.value.code is BankErrorCode.BANK_REJECTED
        assert conflict.value.bank_code == "reference_conflict"

    run(go, bank)


@pytest.mark.parametrize(
    ("changes", "bank_code"),
    [
        ({"currency": "ABC"}, "unknown_currency"),
        ({"amount_minor": -5}, "invalid_amount"),
        ({"callback_url": "nowhere"}, "invalid_url"),
    ],
)
def test_bad_orders_are_rejected_with_the_bank_code(
    bank: str, changes: dict[str, Any], bank_code: str
) -> None:
    with pytest.raises(BankError) as info:
        run(lambda ch: ch.create_order(**order(**changes)), bank)
    assert info.value.code is BankErrorCode.BANK_REJECTED and info.value.bank_code == bank_code


def test_a_wrong_secret_is_rejected_and_never_echoed(bank: str) -> None:
    wrong = "not-the-secret-123"
    with pytest.raises(BankError) as info:
        run(lambda ch: ch.create_order(**order()), bank, secret=wrong)
    assert info.value.code is BankErrorCode.BANK_REJECTED
    assert info.value.bank_code == "unauthorized"
    assert wrong not in str(info.value) and SECRET not in str(info.value)


def test_unknown_and_malformed_order_ids(bank: str) -> None:
    with pytest.raises(BankError) as missing:
        run(lambda ch: ch.get_order("bo_0000"), bank)
    assert missing.value.bank_code == "order_not_found"
    with pytest.raises(BankError) as malformed:
        run(lambda ch: ch.get_order("../orders"), bank)
    assert malformed.value.code is BankErrorCode.BANK_REJECTED


def test_decide_then_the_callback_parses_and_a_second_decision_is_refused(bank: str) -> None:
    with Receiver() as receiver:

        async def go(channel: BankChannel) -> BankCallback:
            created = await channel.create_order(**order(callback_url=receiver.url))
            await channel.decide(created.id, approve=False, failure_code="account_closed")
            with pytest.raises(BankError) as again:
                await channel.decide(created.id, approve=True)
            assert again.value.bank_code == "already_decided"
            (got,) = await asyncio.to_thread(receiver.wait_for, 1)
            callback = channel.parse_callback(got.body, got.headers["Bank-Signature"])
            assert callback.order == created.id
            polled = await channel.get_order(created.id)
            assert (polled.status, polled.failure_code) == ("failed", "account_closed")
            return callback

        callback = run(go, bank)
    assert callback == BankCallback(
        order=callback.order,
        reference="pi_42",
        status="failed",
        failure_code="account_closed",
        amount_minor=1234,
        currency="BHD",
        decided_at=callback.decided_at,
    )


def _signed(
    payload: Any, *, secret: str = SECRET, timestamp: int | None = None
) -> tuple[bytes, str]:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return body, sign([secret], body, timestamp)


GOOD = {
    "order": "bo_1a2b",
    "reference": "pi_42",
    "status": "succeeded",
    "failure_code": None,
    "amount_minor": 500,
    "currency": "jpy",
    "decided_at": "2026-11-25T10:00:00Z",
}


def test_parse_callback_accepts_a_good_one() -> None:
    body, header = _signed(GOOD)
    got = BankChannel("http://bank.example", SECRET).parse_callback(body, header)
    assert (got.status, got.amount_minor, got.currency) == ("succeeded", 500, "JPY")
    rotating = _signed(GOOD, secret="new-secret")
    assert parse_callback(*rotating, ["new-secret", SECRET]) == parse_callback(
        body, header, [SECRET]
    )


def test_tampered_stale_or_unsigned_callbacks_are_refused() -> None:
    channel = BankChannel("http://bank.example", SECRET)
    body, header = _signed(GOOD)
    tampered = body.replace(b'"amount_minor":500', b'"amount_minor":5000')
    assert tampered != body
    cases = [
        (tampered, header),
        (body, None),
        (body, "garbage"),
        _signed(GOOD, secret="someone-else"),
        _signed(GOOD, timestamp=int(time.time()) - 3600),
    ]
    for candidate, candidate_header in cases:
        with pytest.raises(BankError) as info:
            channel.parse_callback(candidate, candidate_header)
        assert info.value.code is BankErrorCode.INVALID_SIGNATURE
        assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        [GOOD],
        {**GOOD, "order": "pi_1"},
        {**GOOD, "reference": ""},
        {**GOOD, "status": "processing"},
        {**GOOD, "failure_code": "insufficient_funds"},
        {**GOOD, "status": "failed", "failure_code": None},
        {**GOOD, "status": "failed", "failure_code": "stolen"},
        {**GOOD, "amount_minor": "500"},
        {**GOOD, "amount_minor": 0},
        {**GOOD, "currency": "XXQ"},
        {**GOOD, "currency": None},
    ],
)
def test_signed_but_malformed_callbacks_are_refused(payload: Any) -> None:
    body, header = _signed(payload)
    with pytest.raises(BankError) as info:
        BankChannel("http://bank.example", SECRET).parse_callback(body, header)
    assert info.value.code is BankErrorCode.INVALID_CALLBACK


class FakeBank:
    """A transport that plays the bank: each request gets the next scripted reply."""

    def __init__(self, replies: list[httpx.Response | Exception]) -> None:
        self.replies = replies
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def test_a_timeout_is_retried_once_with_the_same_reference() -> None:
    fake = FakeBank([httpx.ReadTimeout("slow"), httpx.Response(200, json=ANSWER)])
    got = run(lambda ch: ch.create_order(**order()), "http://bank.example",
              transport=httpx.MockTransport(fake))  # fmt: skip
    assert got.id == "bo_abc" and len(fake.bodies) == 2
    assert fake.bodies[0] == fake.bodies[1]
    assert orjson.loads(fake.bodies[0])["reference"] == "pi_42"


@pytest.mark.parametrize(
    ("replies", "code", "calls"),
    [
        ([httpx.ReadTimeout("slow"), httpx.ReadTimeout("slow")], "bank_unavailable", 2),
        ([httpx.ConnectError("refused"), httpx.ConnectError("refused")], "bank_unavailable", 2),
        ([httpx.Response(503, text="down")], "bank_unavailable", 1),
        ([httpx.Response(200, text="<html>")], "bank_unavailable", 1),
        ([httpx.Response(200, json={"id": 5})], "bank_unavailable", 1),
        ([httpx.Response(400, text="no")], "bank_rejected", 1),
    ],
)
def test_failures_map_to_codes(replies: list[Any], code: str, calls: int) -> None:
    fake = FakeBank(replies)
    with pytest.raises(BankError) as info:
        run(lambda ch: ch.create_order(**order()), "http://bank.example",
            transport=httpx.MockTransport(fake))  # fmt: skip
    assert info.value.code == code and len(fake.bodies) == calls


def test_a_late_bank_answer_then_the_retry_finds_the_same_order() -> None:
    # Every new order is answered 1.5 s late, past the 0.5 s timeout; the order exists anyway, so
    # the one retry with the same reference gets it. max_orders=1: a second order would be 503.
    config = BankConfig(secret=SECRET, latency_ms=0, timeout_rate=1.0, stall_s=1.5, max_orders=1)
    with serve_in_thread(config) as base:
        got = run(lambda ch: ch.create_order(**order()), base, timeout_s=0.5)
        assert got.status == "pending"
        assert run(lambda ch: ch.get_order(got.id), base) == got


def test_an_unreachable_bank_is_unavailable() -> None:
    with pytest.raises(BankError) as info:
        run(lambda ch: ch.get_order("bo_1"), "http://127.0.0.1:9", timeout_s=2)
    assert info.value.code is BankErrorCode.BANK_UNAVAILABLE


INTS = st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what JSON encoders carry


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            key: st.none() | INTS | st.text(max_size=12) | st.just(value)
            for key, value in GOOD.items()
        },
    )
)
def test_any_signed_body_is_a_callback_or_a_coded_refusal(payload: dict[str, Any]) -> None:
    body, header = _signed(payload)
    try:
        got = parse_callback(body, header, [SECRET])
    except BankError as exc:
        assert exc.code is BankErrorCode.INVALID_CALLBACK
        return
    assert got.status in ("succeeded", "failed") and got.amount_minor > 0


# -- refunds ------------------------------------------------------------------------------------

REFUND_ANSWER = {"id": "br_abc", "order": "bo_abc", "reference": "re_1", "status": "pending",
                 "amount_minor": 500, "currency": "BHD", "failure_code": None}  # fmt: skip


def _refund(ch: BankChannel) -> Awaitable[BankRefund]:
    return ch.create_refund("bo_abc", reference="re_1", amount_minor=500, currency="BHD")


def test_a_refund_instruction_is_retried_once_with_the_same_reference() -> None:
    fake = FakeBank([httpx.ReadTimeout("slow"), httpx.Response(200, json=REFUND_ANSWER)])
    got = run(_refund, "http://bank.example", transport=httpx.MockTransport(fake))
    assert (got.id, got.status, got.amount_minor) == ("br_abc", "pending", 500)
    assert len(fake.bodies) == 2 and fake.bodies[0] == fake.bodies[1]
    assert orjson.loads(fake.bodies[0]) == {"reference": "re_1", "amount_minor": 500,
                                            "currency": "BHD"}  # fmt: skip


@pytest.mark.parametrize(
    ("replies", "code", "maybe_sent"),
    [
        ([httpx.ConnectError("refused"), httpx.ConnectError("refused")], "bank_unavailable",
         False),
        ([httpx.ConnectTimeout("no route"), httpx.ConnectError("refused")], "bank_unavailable",
         False),
        ([httpx.ReadTimeout("slow"), httpx.ConnectError("refused")], "bank_unavailable", True),
        ([httpx.ConnectError("refused"), httpx.ReadTimeout("slow")], "bank_unavailable", True),
        ([httpx.Response(502, text="bad gateway")], "bank_unavailable", True),
        ([httpx.Response(200, json={"id": "br_abc"})], "bank_unavailable", True),
        ([httpx.Response(409, json={"error": {"code": "order_not_paid"}})], "bank_rejected",
         True),
    ],
)  # fmt: skip
def test_refund_failures_say_whether_the_bank_may_have_it(
    replies: list[Any], code: str, maybe_sent: bool
) -> None:
    with pytest.raises(BankError) as info:
        run(_refund, "http://bank.example", transport=httpx.MockTransport(FakeBank(replies)))
    assert info.value.code == code and info.value.maybe_sent is maybe_sent


def test_refund_ids_are_checked_before_sending() -> None:
    fake = FakeBank([])
    for bad in ("bo_abc", "br_", "br_a/b", "../orders"):
        with pytest.raises(BankError) as info:
            run(lambda ch, bad=bad: ch.get_refund(bad), "http://bank.example",
                transport=httpx.MockTransport(fake))  # fmt: skip
        assert info.value.code is BankErrorCode.BANK_REJECTED
    assert fake.bodies == []


REFUND_GOOD = {**GOOD, "type": "refund", "refund": "br_9z", "reference": "re_1"}


def test_a_refund_callback_parses() -> None:
    body, header = _signed(REFUND_GOOD)
    got = parse_callback(body, header, [SECRET])
    assert isinstance(got, BankRefundCallback)
    assert (got.refund, got.order, got.reference, got.status, got.currency) == (
        "br_9z", "bo_1a2b", "re_1", "succeeded", "JPY")  # fmt: skip
    failed = {**REFUND_GOOD, "status": "failed", "failure_code": "account_closed"}
    got = parse_callback(*_signed(failed), [SECRET])
    assert isinstance(got, BankRefundCallback) and got.failure_code == "account_closed"
    assert isinstance(parse_callback(*_signed(GOOD), [SECRET]), BankCallback)


@pytest.mark.parametrize(
    "payload",
    [
        {**REFUND_GOOD, "refund": None},
        {**REFUND_GOOD, "refund": "bo_1"},
        {**REFUND_GOOD, "status": "pending"},
        {**REFUND_GOOD, "status": "failed", "failure_code": "insufficient_funds"},
        {**REFUND_GOOD, "status": "failed", "failure_code": None},
        {**REFUND_GOOD, "failure_code": "account_closed"},
        {**REFUND_GOOD, "amount_minor": 0},
        {**REFUND_GOOD, "order": "x"},
    ],
)
def test_bad_refund_callbacks_are_refused(payload: Any) -> None:
    with pytest.raises(BankError) as info:
        parse_callback(*_signed(payload), [SECRET])
    assert info.value.code is BankErrorCode.INVALID_CALLBACK
