"""The sandbox issuer's test cards: numbers whose outcome is fixed, as Stripe's test cards are.

These are simulated cards for test mode only; every other Luhn-valid number is an ordinary
cardholder account with the default balance. The table is the one in docs/reference/cards.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rongpay.wire.iso8583 import ResponseCode


class Behaviour(StrEnum):
    APPROVE = "approve"  # approved while the balance allows
    DECLINE = "decline"  # always declined with the card's response code
    NO_FUNDS = "no_funds"  # a zero balance: every purchase answers 51
    DISPUTE = "dispute"  # approved, then charged back (0422) some seconds after capture
    CHALLENGE = "challenge"  # 1A unless the cardholder was authenticated (3-DS style)
    NO_ANSWER = "no_answer"  # the issuer takes the request and never answers


@dataclass(frozen=True, slots=True)
class SandboxCard:
    behaviour: Behaviour
    response_code: ResponseCode | None = None
    note: str = ""


NO_ANSWER_PAN = "4000000000000408"

SANDBOX_CARDS: dict[str, SandboxCard] = {
    "4242424242424242": SandboxCard(Behaviour.APPROVE, note="Visa, succeeds"),
    "5555555555554444": SandboxCard(Behaviour.APPROVE, note="Mastercard, succeeds"),
    "378282246310005": SandboxCard(Behaviour.APPROVE, note="American Express, succeeds"),
    "6200000000000005": SandboxCard(Behaviour.APPROVE, note="UnionPay, succeeds"),
    "4000000000000002": SandboxCard(
        Behaviour.DECLINE, ResponseCode.DO_NOT_HONOR, "generic_decline"
    ),
    "4000000000009995": SandboxCard(Behaviour.NO_FUNDS, ResponseCode.INSUFFICIENT_FUNDS),
    "4000000000009987": SandboxCard(Behaviour.DECLINE, ResponseCode.LOST_CARD, "lost_card"),
    "4000000000009979": SandboxCard(Behaviour.DECLINE, ResponseCode.STOLEN_CARD, "stolen_card"),
    "4000000000000069": SandboxCard(Behaviour.DECLINE, ResponseCode.EXPIRED_CARD, "expired_card"),
    "4000000000000127": SandboxCard(Behaviour.DECLINE, ResponseCode.CVC_MISMATCH, "incorrect_cvc"),
    "4000000000000119": SandboxCard(
        Behaviour.DECLINE, ResponseCode.SYSTEM_MALFUNCTION, "processing_error"
    ),
    "4000000000000259": SandboxCard(Behaviour.DISPUTE, note="succeeds, then disputed (fraudulent)"),
    "4000002500003155": SandboxCard(Behaviour.CHALLENGE, ResponseCode.AUTHENTICATION_REQUIRED),
    "4000002760003184": SandboxCard(Behaviour.CHALLENGE, ResponseCode.AUTHENTICATION_REQUIRED),
    NO_ANSWER_PAN: SandboxCard(Behaviour.NO_ANSWER, note="never answered: timeout and reversal"),
}

ORDINARY = SandboxCard(Behaviour.APPROVE)


def sandbox_card(pan: str) -> SandboxCard:
    return SANDBOX_CARDS.get(pan, ORDINARY)
