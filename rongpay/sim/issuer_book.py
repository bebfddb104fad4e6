"""The sandbox issuer's books: cardholder accounts, holds, captures, refunds, reversals.

SIMULATED: this stands in for a card issuer in test mode. It keeps its state in memory, and
follows the rules a real issuer's authorisation host enforces, so the gateway meets the same
outcomes it would meet in production:

- an authorisation (0100) places a hold on the available balance (balance minus holds);
- a completion (0200 with field 90) captures up to the held amount once and releases the rest;
- a purchase (0200 without field 90) authorises and captures at once;
- a refund (0200, processing code 20) returns up to the captured amount not yet refunded;
- a reversal (0400/0401/0420/0421) undoes the message named in field 90 (or, when that message
  is unknown, the transaction named by the RRN in field 37); a repeated reversal answers 00 and
  changes nothing, so the acquirer may retransmit freely.

Transactions are found by the RRN the issuer assigned (field 37) or by field 90 (original MTI,
STAN, transmission time, acquiring institution id). State is in memory and bounded.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from rongpay import money
from rongpay.sim.issuer_cards import Behaviour, sandbox_card
from rongpay.wire.iso8583 import (
    CARD_PRESENT_VERIFIED_MODES,
    Message,
    Mti,
    OriginalData,
    ProcessingCode,
    ResponseCode,
    base_mti,
    parse_tlv,
    response_mti,
    transmission_time,
)

DEFAULT_BALANCE_MINOR = 10_000_000
MAX_TRANSACTIONS = 500_000  # the oldest are forgotten beyond this (a sandbox, not a ledger)
R = ResponseCode
_ECHOED = ("3", "4", "7", "11", "32", "37", "41", "42", "49")
MessageKey = tuple[str, str, str, str]  # base MTI, STAN, field 7, acquirer id (11 digits)


@dataclass(slots=True)
class Account:
    """One cardholder's money per currency (minor units); available = balance - holds."""

    opening_minor: int
    balances: dict[str, int] = field(default_factory=dict)
    holds: dict[str, int] = field(default_factory=dict)

    def balance(self, currency: str) -> int:
        return self.balances.setdefault(currency, self.opening_minor)

    def available(self, currency: str) -> int:
        return self.balance(currency) - self.holds.get(currency, 0)

    def move(self, currency: str, *, balance: int = 0, hold: int = 0) -> None:
        self.balances[currency] = self.balance(currency) + balance
        self.holds[currency] = self.holds.get(currency, 0) + hold


@dataclass(slots=True)
class Txn:
    """An authorisation or purchase and what happened to it since."""

    rrn: str
    pan: str
    currency: str
    kind: str  # auth | purchase
    amount_minor: int
    acquirer_id: str
    merchant_id: str
    held_minor: int = 0
    captured_minor: int = 0
    refunded_minor: int = 0
    reversed: bool = False
    charged_back: bool = False


@dataclass(slots=True)
class Follow:
    """A completion or refund: kept so that it can be reversed on its own."""

    root: Txn
    kind: str  # completion | refund
    amount_minor: int
    reversed: bool = False


@dataclass(slots=True)
class Outcome:
    """The answer to send (None: the issuer stays silent) and a transaction that just got
    captured on a card that will be disputed (the server schedules its chargeback)."""

    response: Message | None
    dispute: Txn | None = None


class IssuerBook:
    """All accounts and transactions of the sandbox issuer; `handle` is its message switch."""

    def __init__(
        self,
        *,
        default_balance_minor: int = DEFAULT_BALANCE_MINOR,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.default_balance_minor = default_balance_minor
        self.accounts: dict[str, Account] = {}
        self.by_rrn: dict[str, Txn] = {}
        self.by_message: dict[MessageKey, Txn | Follow] = {}
        self._clock = clock
        rng = rng or random.Random()
        self._rrn_seq = itertools.count(rng.randrange(10**7))
        self._stan_seq = itertools.count(rng.randrange(1, 10**5))

    # -- reading, for tests and the operator ------------------------------------------------

    def account(self, pan: str) -> Account:
        found = self.accounts.get(pan)
        if found is None:
            opening = self.default_balance_minor
            if sandbox_card(pan).behaviour is Behaviour.NO_FUNDS:
                opening = 0
            found = self.accounts[pan] = Account(opening)
        return found

    # -- the switch ---------------------------------------------------------------------------

    def handle(self, msg: Message) -> Outcome:
        """Apply one request and return the answer to send."""
        mti = base_mti(msg["t"])
        if mti == Mti.NETWORK_REQUEST:
            return Outcome(self._answer(msg, R.APPROVED))
        if mti in (Mti.REVERSAL_REQUEST, Mti.REVERSAL_ADVICE):
            return Outcome(self._reverse(msg))
        if mti == Mti.AUTH_REQUEST:
            return self._authorise(msg, capture=False)
        if mti == Mti.FINANCIAL_REQUEST:
            if msg["3"][:2] == ProcessingCode.REFUND[:2]:
                return Outcome(self._refund(msg))
            if "90" in msg:
                return self._complete(msg)
            return self._authorise(msg, capture=True)
        return Outcome(None)  # responses and advices sent to us are the server's business

    def format_error(self, msg: Message) -> Message | None:
        """The 30 answer to a request we could read only in part (None if not answerable)."""
        mti = msg.get("t", "")
        if len(mti) != 4 or not mti.isdigit() or mti[2] not in "02" or "11" not in msg:
            return None
        return {"t": response_mti(mti), "11": msg["11"], "39": R.FORMAT_ERROR}

    def chargeback(self, txn: Txn, reason: str = "fraudulent") -> Message | None:
        """Charge TXN back (the cardholder disputes it) and return the 0422 advice, or None
        when nothing is left to dispute."""
        amount = txn.captured_minor - txn.refunded_minor
        if txn.charged_back or amount <= 0:
            return None
        txn.charged_back = True
        self.account(txn.pan).move(txn.currency, balance=amount)
        return {
            "t": Mti.CHARGEBACK_ADVICE,
            "4": f"{amount:012d}",
            "7": transmission_time(self._clock()),
            "11": self.next_stan(),
            "32": txn.acquirer_id.lstrip("0") or "0",
            "37": txn.rrn,
            "42": txn.merchant_id,
            "48": f"DR{len(reason):02d}{reason}",
            "49": money.currency(txn.currency).number,
        }

    def next_stan(self) -> str:
        return f"{next(self._stan_seq) % 999_999 + 1:06d}"

    # -- rules ----------------------------------------------------------------------------------

    def _authorise(self, msg: Message, *, capture: bool) -> Outcome:
        if msg["3"] != ProcessingCode.PURCHASE:
            return Outcome(self._answer(msg, R.INVALID_TRANSACTION))
        pan, currency, amount = msg["2"], alpha(msg["49"]), int(msg["4"])
        card = sandbox_card(pan)
        code = self._screen(msg, card.behaviour, card.response_code)
        if code is None and amount > self.account(pan).available(currency):
            code = R.INSUFFICIENT_FUNDS
        if code is not None:
            return Outcome(self._answer(msg, code))
        rrn = self._new_rrn()
        txn = Txn(rrn, pan, currency, "purchase" if capture else "auth", amount, *_origin(msg))
        if capture:
            txn.captured_minor = amount
            self.account(pan).move(currency, balance=-amount)
        else:
            txn.held_minor = amount
            self.account(pan).move(currency, hold=amount)
        self._remember(msg, txn)
        self.by_rrn[rrn] = txn
        answer = self._answer(msg, R.APPROVED, rrn=rrn)
        if card.behaviour is Behaviour.NO_ANSWER:
            return Outcome(None)
        disputed = capture and card.behaviour is Behaviour.DISPUTE
        return Outcome(answer, txn if disputed else None)

    def _screen(
        self, msg: Message, behaviour: Behaviour, code: ResponseCode | None
    ) -> ResponseCode | None:
        """The decline a request meets before money is looked at, or None."""
        if behaviour is Behaviour.DECLINE:
            return code
        expiry = msg.get("14", "")
        if expiry and (2000 + int(expiry[:2]), int(expiry[2:])) < _year_month(self._clock()):
            return R.EXPIRED_CARD
        if behaviour is Behaviour.CHALLENGE:
            authenticated = parse_tlv(msg.get("48", "")).get("AU") == "Y"
            if not authenticated and msg.get("22") not in CARD_PRESENT_VERIFIED_MODES:
                return R.AUTHENTICATION_REQUIRED
        return None

    def _complete(self, msg: Message) -> Outcome:
        txn = self._root(msg)
        if txn is None:
            return Outcome(self._answer(msg, R.ORIGINAL_NOT_FOUND))
        amount = int(msg["4"])
        if txn.pan != msg["2"] or txn.currency != alpha(msg["49"]):
            return Outcome(self._answer(msg, R.INVALID_TRANSACTION, rrn=txn.rrn))
        if txn.kind != "auth" or txn.reversed or txn.captured_minor or not txn.held_minor:
            return Outcome(self._answer(msg, R.INVALID_TRANSACTION, rrn=txn.rrn))
        if not 0 < amount <= txn.held_minor:
            return Outcome(self._answer(msg, R.INVALID_AMOUNT, rrn=txn.rrn))
        self.account(txn.pan).move(txn.currency, balance=-amount, hold=-txn.held_minor)
        txn.held_minor, txn.captured_minor = 0, amount
        self._remember(msg, Follow(txn, "completion", amount))
        disputed = sandbox_card(txn.pan).behaviour is Behaviour.DISPUTE
        return Outcome(self._answer(msg, R.APPROVED, rrn=txn.rrn), txn if disputed else None)

    def _refund(self, msg: Message) -> Message:
        txn = self._root(msg)
        if txn is None:
            return self._answer(msg, R.ORIGINAL_NOT_FOUND)
        amount = int(msg["4"])
        if txn.pan != msg["2"] or txn.currency != alpha(msg["49"]):
            return self._answer(msg, R.INVALID_TRANSACTION, rrn=txn.rrn)
        refundable = txn.captured_minor - txn.refunded_minor
        if txn.charged_back:
            refundable = 0
        if not 0 < amount <= refundable:
            return self._answer(msg, R.INVALID_AMOUNT, rrn=txn.rrn)
        self.account(txn.pan).move(txn.currency, balance=amount)
        txn.refunded_minor += amount
        self._remember(msg, Follow(txn, "refund", amount))
        return self._answer(msg, R.APPROVED, rrn=txn.rrn)

    def _reverse(self, msg: Message) -> Message:
        target = self._find(OriginalData.parse(msg["90"]))
        if target is None and msg.get("37"):
            target = self.by_rrn.get(msg["37"])
        if target is None:
            # Never received (lost on the way): nothing moved, so nothing to undo.
            return self._answer(msg, R.ORIGINAL_NOT_FOUND)
        root = target.root if isinstance(target, Follow) else target
        if root.pan != msg["2"]:
            return self._answer(msg, R.INVALID_TRANSACTION, rrn=root.rrn)
        if target.reversed:
            return self._answer(msg, R.APPROVED, rrn=root.rrn)  # a repeat: already done
        account = self.account(root.pan)
        if isinstance(target, Follow):
            sign = 1 if target.kind == "completion" else -1
            account.move(root.currency, balance=sign * target.amount_minor)
            if target.kind == "completion":
                root.captured_minor -= target.amount_minor
            else:
                root.refunded_minor -= target.amount_minor
        else:
            account.move(
                root.currency,
                balance=root.captured_minor - root.refunded_minor,
                hold=-root.held_minor,
            )
            root.held_minor, root.captured_minor, root.refunded_minor = 0, 0, 0
        target.reversed = True
        return self._answer(msg, R.APPROVED, rrn=root.rrn)

    # -- helpers ----------------------------------------------------------------------------

    def _root(self, msg: Message) -> Txn | None:
        if msg.get("37") and msg["37"] in self.by_rrn:
            return self.by_rrn[msg["37"]]
        if "90" not in msg:
            return None
        found = self._find(OriginalData.parse(msg["90"]))
        return found.root if isinstance(found, Follow) else found

    def _find(self, original: OriginalData) -> Txn | Follow | None:
        key = (base_mti(original.mti), original.stan, original.transmitted_at, original.acquirer_id)
        return self.by_message.get(key)

    def _remember(self, msg: Message, record: Txn | Follow) -> None:
        acquirer = f"{msg.get('32', ''):0>11}"
        self.by_message[(base_mti(msg["t"]), msg["11"], msg["7"], acquirer)] = record
        if len(self.by_message) > MAX_TRANSACTIONS:
            self.by_message.pop(next(iter(self.by_message)))
        if len(self.by_rrn) > MAX_TRANSACTIONS:
            self.by_rrn.pop(next(iter(self.by_rrn)))

    def _new_rrn(self) -> str:
        day = time.strftime("%y%j", time.gmtime(self._clock()))[1:]  # YDDD
        return f"{day}{next(self._rrn_seq) % 10**8:08d}"

    def _answer(self, msg: Message, code: ResponseCode, *, rrn: str | None = None) -> Message:
        answer = {k: msg[k] for k in _ECHOED if k in msg}
        answer["t"] = response_mti(msg["t"])
        answer["39"] = code
        if rrn is not None:
            answer["37"] = rrn
        if code == R.APPROVED and base_mti(msg["t"]) in (Mti.AUTH_REQUEST, Mti.FINANCIAL_REQUEST):
            answer["38"] = f"{int(answer.get('37', '0')[-6:] or 0):06d}"
        return answer


@cache
def alpha(number: str) -> str:
    """The ISO 4217 letter code for field 49's numeric code (the number itself if unknown)."""
    for found in money.currencies().values():
        if found.number == number:
            return found.code
    return number


def _origin(msg: Message) -> tuple[str, str]:
    return f"{msg.get('32', ''):0>11}", msg.get("42", "")


def _year_month(now_s: float) -> tuple[int, int]:
    t = time.gmtime(now_s)
    return t.tm_year, t.tm_mon
