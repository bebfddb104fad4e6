"""The gateway's use cases for payment intents: create, confirm, verify a challenge, capture,
cancel, expire. Each is async because channels answer over the network; database work goes
through the group-commit writer (writer.py), the channel call happens between two commits:

    card:   [commit: processing + pending charge + vault record] -> ISO 8583 to the issuer
            -> [commit: ledger authorisation/capture + charge outcome + events]
Commit 1 also records what is about to be sent (its STAN, transmission time and the fields a
reversal repeats) and the idempotency key it reserved. A crash between the two commits leaves
an intent in `processing` with a pending charge: `recover_stuck` (the upkeep sweep) reverses
the recorded request at the issuer, then fails the attempt and answers its key
(card_recovery.py): never half-moved money.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.ledger.store import Sql
from rongpay.payments import (
    bank_refunds,
    card_recovery,
    charges,
    customers,
    disputes,
    idempotency,
    merchants,
    methods,
    parse,
    redirects,
    refunds,
    steps,
    store,
    wallets,
)
from rongpay.payments.channels.bank import BankChannel, BankError, BankRefundCallback
from rongpay.payments.channels.card import CardNetwork, CardOutcome, CardResult, Chargeback
from rongpay.payments.compliance_gate import ComplianceGate
from rongpay.payments.errors import Kind, PaymentError, invalid, missing
from rongpay.payments.idempotency import Idem, Stored
from rongpay.payments.intents import (
    Intent,
    authorize_transfers,
    from_row,
    involved_accounts,
    load,
    touch,
)
from rongpay.payments.methods import MethodInput
from rongpay.payments.ops import Change, IntentOp, Plan, Step, no_money
from rongpay.payments.risk_gate import RiskGate
from rongpay.payments.types import (
    Caller,
    CaptureMethod,
    ChargeStatus,
    DisputeStatus,
    IntentStatus,
    new_id,
)
from rongpay.payments.writer import Tx, writer_for
from rongpay.security.cards import CardDetails
from rongpay.security.store import insert_record, load_record
from rongpay.security.vault import Vault, VaultError
from rongpay.store.uow import unit_of_work
from rongpay.wire.iso8583 import Message

log = logging.getLogger("rongpay.payments")

CREATE_FIELDS = frozenset({
    "amount", "currency", "capture_method", "confirm", "customer", "description", "metadata",
    "payment_method_data", "return_url",
})  # fmt: skip
CONFIRM_FIELDS = frozenset({"payment_method_data", "return_url"})
CVC_TTL_S = 600  # a CVC is held in memory only until the authorisation it is for completes
BANK_DESCRIPTION_MAX = 140  # what a bank statement line carries (the sandbox bank takes 255)


@dataclass(frozen=True, slots=True)
class Client:
    """Where the request came from, for risk features."""

    ip: str | None = None
    device_id: str | None = None


class Gateway:
    def __init__(
        self, engine: Engine, *, vault: Vault, card: CardNetwork | None = None,
        bank: BankChannel | None = None, base_url: str = "http://127.0.0.1:8000",
    ) -> None:  # fmt: skip
        self.engine = engine
        self.vault = vault
        self.card = card
        self.bank = bank
        self.base_url = base_url.rstrip("/")
        self.risk = RiskGate(engine)
        self.compliance = ComplianceGate(engine)
        self._cvc: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, list[Any]] = {}  # intent id -> [lock, holders and waiters]

    @property
    def writer(self) -> Any:
        return writer_for(self.engine)

    async def _run(self, op: IntentOp) -> Change:
        result = await self.writer.run_async(op)
        return result  # type: ignore[no-any-return]

    # -- create and confirm -----------------------------------------------------------------

    async def create(
        self, caller: Caller, raw: object, *, idem: Idem | None, client: Client
    ) -> Any:
        body = parse.body(raw, CREATE_FIELDS)
        pmd = body.get("payment_method_data")
        bank = isinstance(pmd, dict) and pmd.get("type") == "bank_transfer"
        if bank and (stored := self._replay(idem)) is not None:  # the bank is asked first
            return stored
        merchant = merchants.get(self.engine, caller.merchant_id)
        cur = parse.currency(body.get("currency"))
        amount = parse.amount(body.get("amount"), cur)
        now = int(time.time())
        intent = Intent(
            id=new_id("pi"), merchant_id=merchant.id, livemode=caller.livemode,
            status=IntentStatus.requires_payment_method,
            amount=amount, currency=cur, fee_quote=steps.fee_quote(merchant, amount, cur),
            capture_method=CaptureMethod(parse.choice(body.get("capture_method"), "capture_method",
                                                      ("automatic", "manual"), "automatic")),
            customer_id=parse.text(body.get("customer"), "customer", limit=40),
            description=parse.text(body.get("description"), "description"),
            metadata=parse.metadata(body.get("metadata")), created=now, updated=now,
            return_url=parse.url(body.get("return_url"), "return_url"),
        )  # fmt: skip
        method = self._method(body.get("payment_method_data"))
        if method is not None:
            intent = self._attach(intent, method, merchant)
        confirm = parse.boolean(body.get("confirm"), "confirm", False)
        if confirm and method is None:
            raise invalid("parameter_missing", "`confirm: true` needs `payment_method_data`.",
                          "payment_method_data")  # fmt: skip
        if not confirm:
            change = Change(intent)
            change.event("payment_intent.created")
            record = method.record if method is not None else None
            if record is not None:  # the card is kept (sealed) for the confirmation to come
                change.direct.append(lambda conn: insert_record(conn, record))
            op = IntentOp(merchant.id, caller.livemode, intent.id, lambda tx, i: no_money(change),
                          new=intent, idem=idem)  # fmt: skip
            return await self.writer.run_async(op)
        assert method is not None
        return await self._confirm(caller, intent, method, idem=idem, client=client, new=True)

    async def _confirm_now(
        self, caller: Caller, intent_id: str, raw: object, *, idem: Idem | None, client: Client
    ) -> Any:
        if (stored := self._replay(idem)) is not None:
            return stored
        body = parse.body({} if raw is None else raw, CONFIRM_FIELDS)
        merchant = merchants.get(self.engine, caller.merchant_id)
        with unit_of_work(self.engine, write=False) as conn:
            intent = load(conn, intent_id, caller.merchant_id, caller.livemode)
        if body.get("return_url") is not None:
            intent = replace(intent, return_url=parse.url(body["return_url"], "return_url"))
        steps.require(intent, (IntentStatus.requires_payment_method,
                               IntentStatus.requires_confirmation), "confirm")  # fmt: skip
        method = self._method(body.get("payment_method_data"))
        if method is None:
            if intent.payment_method is None:
                raise invalid("parameter_missing", "This payment intent has no payment method; "
                              "send `payment_method_data`.", "payment_method_data")  # fmt: skip
            method = self._stored_method(intent)
        else:
            intent = self._attach(intent, method, merchant)
        return await self._confirm(caller, intent, method, idem=idem, client=client, new=False)

    @asynccontextmanager
    async def _serial(self, intent_id: str) -> AsyncIterator[None]:
        """One request at a time per intent in this process: a capture racing a cancel (or
        two confirms) would otherwise both reach the card network or the bank before either
        commits. The second waits, then sees the first one's result."""
        entry = self._locks.get(intent_id)
        if entry is None:
            entry = self._locks[intent_id] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(intent_id, None)

    def warm(self) -> None:
        """Load what the first payment would otherwise wait for (model, rules, lists)."""
        self.risk.warm()
        self.compliance.screener()

    def _replay(self, idem: Idem | None) -> Stored | None:
        """A retried request whose first answer is stored: that answer, before any check of
        the object's state (which the first request changed) or any network call."""
        if idem is None:
            return None
        with unit_of_work(self.engine, write=False) as conn:
            return idempotency.lookup(Sql(conn), idem)

    def _method(self, raw: object) -> MethodInput | None:
        return None if raw is None else methods.parse_method(raw, self.vault)

    def _stored_method(self, intent: Intent) -> MethodInput:
        pm = intent.payment_method or {}
        kind = str(pm.get("type"))
        if kind in ("card", "card_present"):
            card = self._open_card(intent)
            return MethodInput(pm, card=card)
        return MethodInput(pm)

    def _forget_stale_cvcs(self) -> None:
        """CVCs are held only for an attempt in progress (at most CVC_TTL_S)."""
        now = time.monotonic()
        for intent_id, (_, since) in list(self._cvc.items()):
            if now - since > CVC_TTL_S:
                self._cvc.pop(intent_id, None)

    def _open_card(self, intent: Intent) -> CardDetails:
        pm = intent.payment_method or {}
        token = pm[str(pm["type"])]["token"]
        with unit_of_work(self.engine, write=False) as conn:
            record = load_record(conn, token)
        gone = invalid("payment_method_invalid", "The stored card cannot be used any more; "
                       "send the card again.", "payment_method_data")  # fmt: skip
        if record is None:
            raise gone
        try:
            card = self.vault.open(record)
        except VaultError:  # the key that sealed it was rotated away, or the record was altered
            raise gone from None
        held = self._cvc.get(intent.id)
        if held is not None and time.monotonic() - held[1] < CVC_TTL_S:
            card = replace(card, cvc=held[0])
        return card

    def _attach(self, intent: Intent, method: MethodInput, merchant: Any) -> Intent:
        pm = dict(method.public)
        if method.payment_code is not None:  # only its hash is kept (never shown)
            pm["_payment_code_hash"] = hashlib.sha256(method.payment_code.encode()).hexdigest()
        country = (
            (pm.get(method.type) or {}).get("country") if method.type.startswith("card") else None
        )
        country = (pm.get("billing_details") or {}).get("country") or country
        fee = steps.fee_for(merchant, intent, method.type, country)
        status = IntentStatus.requires_confirmation
        return touch(intent, payment_method=pm, fee=fee, status=status)

    async def _confirm(
        self, caller: Caller, intent: Intent, method: MethodInput, *, idem: Idem | None,
        client: Client, new: bool, authenticated: bool = False,
    ) -> Any:  # fmt: skip
        merchant = merchants.get(self.engine, caller.merchant_id)
        if method.type == "wallet":
            step = self._wallet_step(merchant, client, authenticated)
            pm = intent.payment_method or {}
            code, customer = pm.get("_payment_code_hash"), pm.get("wallet_customer")
            # one customer's payments never share a group: each sees the last one's KYC totals
            keys = (f"code:{code}",) if code else (f"cus:{customer}",)
            op = IntentOp(merchant.id, caller.livemode, intent.id, step,
                          new=intent if new else None, idem=idem, extra_keys=keys)  # fmt: skip
            if not new:
                op.step = _with_method(intent, step)
            return await self._aftermath(await self.writer.run_async(op), merchant)
        if method.type in ("card", "card_present"):
            return await self._confirm_card(caller, intent, method, idem=idem, client=client,
                                            new=new, authenticated=authenticated)  # fmt: skip
        if method.type == "bank_transfer":
            return await self._confirm_bank(caller, intent, idem=idem, new=new)
        if method.type == "qr":

            def show(tx: Tx, cur: Intent) -> Plan:
                current = intent if new else _refresh(cur, intent)
                return redirects.qr_display(current, merchant, self.base_url)

            op = IntentOp(merchant.id, caller.livemode, intent.id, show,
                          new=intent if new else None, idem=idem)  # fmt: skip
            return await self.writer.run_async(op)
        raise PaymentError(Kind.invalid, "payment_method_unavailable",
                           f"Payment method {method.type!r} is not available here yet.",
                           param="payment_method_data[type]")  # fmt: skip

    # -- wallet -----------------------------------------------------------------------------

    def _wallet_step(self, merchant: Any, client: Client, authenticated: bool) -> Step:
        def step(tx: Tx, intent: Intent) -> Plan:
            intent, payer, code = steps.payer_ready(
                tx, intent, merchant.id,
                fee=lambda p: steps.fee_for(merchant, intent, "wallet", p.country),
            )  # fmt: skip
            spend = wallets.spend_check(tx, payer, intent.amount, intent.currency)

            def go(i: Intent, risk: dict[str, Any]) -> Plan:
                failure = steps.payment_error("balance_insufficient", None)
                plan = steps.charge_plan(i, i.attempts + 1, charge_id=None, network=None,
                                         risk=risk, failure=failure)  # fmt: skip

                def count(change: Change) -> None:
                    if change.intent.status == IntentStatus.succeeded:  # money left the wallet
                        wallets.spend_rows(change, spend)  # (a hold counts when captured)

                return plan.then(count)

            plan = self._decide(intent, merchant, payer.id, payer.country, client, authenticated,
                                go, name=payer.name)  # fmt: skip
            return plan.then(lambda change: steps.code_outcome(change, code))

        return step

    def _decide(self, intent: Intent, merchant: Any, payer: str, country: str | None,
                client: Client, authenticated: bool, go: Any,
                name: str | None = None) -> Plan:  # fmt: skip
        """Screening first (a cross-border payer on a sanctions list holds the payment), then
        risk: block declines, challenge asks for a code, review and allow go on. An attempt
        re-run after a passed challenge or an analyst's release skips both."""
        who = {"payer": payer, "country": country}
        if not authenticated:
            hold = self.compliance.screen(name, country, merchant.country)
            if hold is not None:
                held = steps.held(intent, hold, who)
                i = held.intent
                held.direct.append(self.compliance.case_write(
                    f"screening:{i.id}:{i.attempts}", "sanctions_screening", str(hold["name"]),
                    i, 1.0, f"payment {i.id} held: payer {hold['name']!r} matches "
                    + ", ".join(m["caption"] for m in hold["matches"])))  # fmt: skip
                return no_money(held)
        risk = self.risk.assess(intent, merchant, payer, country, client.device_id, client.ip)
        decision = risk["decision"]
        card = (intent.method_type or "").startswith("card")
        if decision == "block":
            error = steps.payment_error(
                "card_declined" if card else "payment_declined", "fraudulent"
            )
            return no_money(steps.failed_attempt(intent, error, risk=risk))
        if decision == "challenge" and not authenticated:
            return no_money(
                steps.challenged(intent, risk=risk, reason="risk", base_url=self.base_url)
            )

        def tell(change: Change) -> None:  # who paid, for the AML monitor after the commit
            change.extra["payer"] = who

        plan: Plan = go(intent, risk)
        return plan.then(tell).then(self._review_case(who))

    def _review_case(self, who: dict[str, Any]) -> Callable[[Change], None]:
        """A payment risk let through for review that moved money gets its case, written in
        the payment's transaction (a card's: the one that books the issuer's approval)."""

        def add(change: Change) -> None:
            intent, risk = change.intent, change.intent.risk or {}
            moved = intent.status in (IntentStatus.succeeded, IntentStatus.requires_capture)
            if risk.get("decision") != "review" or not moved or not who:
                return
            change.direct.append(self.compliance.case_write(
                f"risk-review:{intent.id}:{intent.attempts}", "risk_review", str(who["payer"]),
                intent, float(risk.get("score", 0.5)), f"payment {intent.id} let through for "
                "review: " + ", ".join(risk.get("reasons") or ["model score"])))  # fmt: skip

        return add

    async def _aftermath(self, result: Any, merchant: Any) -> Any:
        """After the commit: completed payments go to the AML monitor (never waited for).
        Cases for held and reviewed payments were written with the payment itself."""
        change = result.result if isinstance(result, Stored) else result
        if not isinstance(change, Change):
            return result
        intent, who = change.intent, change.extra.get("payer") or {}
        if intent.status in (IntentStatus.succeeded, IntentStatus.requires_capture) and who:
            self.compliance.completed(intent, str(who["payer"]), who.get("country"),
                                      merchant.country)  # fmt: skip
        return result

    # -- cards ------------------------------------------------------------------------------

    async def _confirm_card(
        self, caller: Caller, intent: Intent, method: MethodInput, *, idem: Idem | None,
        client: Client, new: bool, authenticated: bool,
    ) -> Any:  # fmt: skip
        merchant = merchants.get(self.engine, caller.merchant_id)
        card = method.card
        assert card is not None
        self._forget_stale_cvcs()
        if card.cvc:
            self._cvc[intent.id] = (card.cvc, time.monotonic())
        record = method.record
        pm = intent.payment_method or {}
        details = pm.get(method.type) or {}
        # chosen before commit 1, which records it: a crash after the send can still reverse it
        request = self._card_request(intent, card, merchant, authenticated)

        def begin(tx: Tx, current: Intent) -> Plan:
            current = intent if new else _refresh(current, intent)
            country = (pm.get("billing_details") or {}).get("country") or details.get("country")

            def go(i: Intent, risk: dict[str, Any]) -> Plan:
                row = charges.new_row(i, ChargeStatus.pending, outcome={"risk": risk})
                after = touch(i, status=IntentStatus.processing, latest_charge=row["id"],
                              attempts=i.attempts + 1, risk=risk,
                              last_payment_error=None)  # fmt: skip
                change = Change(after, inserts=[(store.charges, row)], extra={"go": True})
                if request is not None:
                    sent = card_recovery.request_row(row["id"], after, request, idem)
                    change.inserts.append((store.card_requests, sent))
                change.event("payment_intent.processing")
                return no_money(change)

            name = (pm.get("billing_details") or {}).get("name")
            plan = self._decide(current, merchant, details.get("fingerprint", ""), country,
                                client, authenticated, go, name=name)  # fmt: skip
            if record is None:
                return plan
            # the card is stored whatever happens now: a challenge or a hold resumes from it
            return plan.then(lambda change: change.direct.append(
                lambda conn: insert_record(conn, record)))  # fmt: skip

        first = IntentOp(merchant.id, caller.livemode, intent.id, begin,
                         new=intent if new else None, idem=idem, idem_phase="reserve")  # fmt: skip
        started = await self.writer.run_async(first)
        if not isinstance(started, Change) or not started.extra.get("go"):
            if isinstance(started, Change) and started.intent.status == "requires_payment_method":
                self._cvc.pop(intent.id, None)  # declined before the network: nothing resumes
            await self._aftermath(started, merchant)
            if idem is not None and isinstance(started, Change):
                declined = any(t == "payment_intent.payment_failed" for t, _ in started.events)
                return await self._complete_idem(caller, started.intent, idem, declined)
            return started
        processing = started.intent
        result = await self._authorize(processing, card, request)
        if result.outcome != CardOutcome.CHALLENGE_REQUIRED:
            self._cvc.pop(intent.id, None)

        review = self._review_case(started.extra.get("payer") or {})

        def finish(tx: Tx, cur: Intent) -> Plan:
            if request is not None:  # unless a recovery took the attempt over meanwhile
                card_recovery.check_open(tx.conn, processing.latest_charge)
            return self._card_outcome(cur, processing, result).then(review)

        end = IntentOp(merchant.id, caller.livemode, intent.id, finish, idem=idem,
                       idem_phase="complete")  # fmt: skip
        try:
            final = await self.writer.run_async(end)
        except BaseException:
            # the issuer moved money we could not book: take it back there before failing
            if result.outcome == CardOutcome.APPROVED and self.card is not None:
                await self.card.reverse(
                    card, original=result, amount_minor=processing.amount,
                    currency=processing.currency, merchant_id=merchant.id,
                    reference=f"{intent.id}:{processing.attempts}:unbooked",
                )  # fmt: skip
            raise
        change = final.result if isinstance(final, Stored) else final
        if isinstance(change, Change):
            change.extra.setdefault("payer", started.extra.get("payer"))
        return await self._aftermath(final, merchant)

    async def _complete_idem(
        self, caller: Caller, intent: Intent, idem: Idem, declined: bool
    ) -> Any:
        """A reserved key whose attempt ended without reaching the network (risk said no):
        store the answer the attempt gave (a decline stays a 402)."""
        op = IntentOp(caller.merchant_id, caller.livemode, intent.id,
                      lambda tx, cur: no_money(Change(cur, extra={"declined": declined})),
                      idem=idem, idem_phase="complete")  # fmt: skip
        return await self.writer.run_async(op)

    def _card_request(self, intent: Intent, card: CardDetails, merchant: Any,
                      authenticated: bool) -> Message | None:  # fmt: skip
        """The 0100/0200 for this attempt, its identity chosen (None: no card network)."""
        if self.card is None:
            return None
        pm = intent.payment_method or {}
        entry = (pm.get(str(pm.get("type"))) or {}).get("entry_mode", "ecommerce")
        return self.card.prepare_authorization(
            card, amount_minor=intent.amount, currency=intent.currency, merchant_id=merchant.id,
            mcc=merchant.mcc, entry_mode=entry, authenticated=authenticated,
            capture=intent.capture_method == CaptureMethod.automatic,
        )  # fmt: skip

    async def _authorize(self, intent: Intent, card: CardDetails,
                         request: Message | None) -> CardResult:  # fmt: skip
        if self.card is None or request is None:
            return CardResult(CardOutcome.UNAVAILABLE, None, "issuer_not_available", None, None,
                              "", 0.0, False)  # fmt: skip
        return await self.card.send(request, card, f"{intent.id}:{intent.attempts}")

    def _card_outcome(self, current: Intent, processing: Intent, result: CardResult) -> Plan:
        if (
            current.status != IntentStatus.processing
            or current.latest_charge != processing.latest_charge
        ):
            raise PaymentError(Kind.conflict, "payment_intent_unexpected_state",
                               "The payment intent changed during the authorisation.")  # fmt: skip
        network = _network(result)
        charge_id = processing.latest_charge
        if result.outcome == CardOutcome.APPROVED:
            return Plan(
                lambda results: steps.succeed(current, results, charge_id=charge_id,
                                              network=network, risk=current.risk,
                                              failure=steps.payment_error("processing_error",
                                                                          None)),
                authorize_transfers(current, current.attempts),
                involved_accounts(current),
            )  # fmt: skip
        if result.outcome == CardOutcome.CHALLENGE_REQUIRED:
            change = steps.challenged(current, risk=current.risk, reason="issuer_authentication",
                                      base_url=self.base_url)  # fmt: skip
            change.updates.append((store.charges, str(charge_id), {"status": "failed",
                                   "failure_code": "authentication_required"}))  # fmt: skip
            return no_money(change)
        if result.outcome == CardOutcome.DECLINED:
            error = steps.payment_error("card_declined", result.decline_code or "generic_decline")
        elif result.outcome == CardOutcome.UNAVAILABLE:  # nothing was sent
            error = steps.payment_error("card_declined", "issuer_not_available",
                                        "The card network cannot be reached; nothing was "
                                        "charged. Try again shortly.")  # fmt: skip
        else:  # timeout: the connector reversed the request
            error = steps.payment_error("processing_error", "processing_error",
                                        "The card network did not answer in time; nothing was "
                                        "charged. Try again.")  # fmt: skip
        return no_money(steps.failed_attempt(current, error, risk=current.risk, network=network,
                                             charge_id=charge_id))  # fmt: skip

    # -- challenge, capture, cancel ---------------------------------------------------------

    async def _verify_now(
        self, caller: Caller, intent_id: str, raw: object, *, client: Client
    ) -> Any:
        body = parse.body(raw, frozenset({"code"}))
        op = IntentOp(caller.merchant_id, caller.livemode, intent_id,
                      lambda tx, cur: steps.verify_code(cur, body.get("code")))  # fmt: skip
        change = await self.writer.run_async(op)
        if change.extra.get("verified") is False:
            left = change.extra["tries_left"]
            raise invalid("challenge_code_invalid",
                          f"That code is not right; {left} tries left.", "code")  # fmt: skip
        if not change.extra.get("verified"):
            return change
        intent = touch(change.intent, status=IntentStatus.requires_confirmation, next_action=None)
        method = self._stored_method(intent)
        return await self._confirm(caller, intent, method, idem=None, client=client, new=False,
                                   authenticated=True)  # fmt: skip

    async def _capture_now(
        self, caller: Caller, intent_id: str, raw: object, *, idem: Idem | None
    ) -> Any:
        if (stored := self._replay(idem)) is not None:
            return stored
        body = parse.body({} if raw is None else raw, frozenset({"amount_to_capture"}))
        merchant = merchants.get(self.engine, caller.merchant_id)
        with unit_of_work(self.engine, write=False) as conn:
            intent = load(conn, intent_id, caller.merchant_id, caller.livemode)
        steps.require(intent, (IntentStatus.requires_capture,), "capture")
        amount = intent.amount_capturable
        if body.get("amount_to_capture") is not None:
            amount = parse.positive_amount(body["amount_to_capture"], "amount_to_capture")
            if amount > intent.amount_capturable:
                raise invalid("amount_too_large", f"`amount_to_capture` is more than the "
                              f"{intent.amount_capturable} that can be captured.",
                              "amount_to_capture")  # fmt: skip
        country = _payer_country(intent)
        fee = steps.fee_for(
            merchant, replace(intent, amount=amount), str(intent.method_type), country
        )
        phase = "once"
        if (intent.method_type or "").startswith("card"):
            if idem is not None:  # reserve the key first: a racing retry must not capture twice
                hold = IntentOp(merchant.id, caller.livemode, intent.id, _unchanged_if_capturable,
                                idem=idem, idem_phase="reserve")  # fmt: skip
                reserved = await self.writer.run_async(hold)
                if not isinstance(reserved, Change):
                    return reserved
                phase = "complete"
            try:
                await self._card_call("capture", intent, amount)
            except PaymentError as refused:
                if phase == "complete":  # release the key: a retry with it may try again
                    await self._release_key(caller, intent.id, idem, refused)
                raise
        op = IntentOp(merchant.id, caller.livemode, intent.id,
                      lambda tx, cur: steps.capture(cur, amount, fee, self._spend(tx, cur, amount)),
                      idem=idem, idem_phase=phase)  # fmt: skip
        return await self.writer.run_async(op)

    async def _release_key(self, caller: Caller, intent_id: str, idem: Idem | None,
                           refused: PaymentError) -> None:  # fmt: skip
        """Forget a reserved idempotency key whose request failed before changing anything."""

        def refuse(tx: Tx, cur: Intent) -> Plan:
            raise refused  # the writer releases a 'complete' key when its op is refused

        op = IntentOp(caller.merchant_id, caller.livemode, intent_id, refuse, idem=idem,
                      idem_phase="complete")  # fmt: skip
        with contextlib.suppress(PaymentError):
            await self.writer.run_async(op)

    @staticmethod
    def _spend(tx: Tx, intent: Intent, amount: int) -> list[tuple[str, int, bool]]:
        """A wallet capture's addition to the holder's KYC running totals (the hold did not
        count; the limit was checked when it was made)."""
        customer = (intent.payment_method or {}).get("wallet_customer")
        if intent.method_type != "wallet" or not customer:
            return []
        payer = customers.load(tx.conn, str(customer), intent.livemode, "payment_intent")
        return wallets.spend_add(tx, payer, amount, intent.currency)

    async def _cancel_now(self, caller: Caller, intent_id: str, raw: object, *, idem: Idem | None,
                     reason: str | None = None) -> Any:  # fmt: skip
        if (stored := self._replay(idem)) is not None:
            return stored
        body = parse.body({} if raw is None else raw, frozenset({"cancellation_reason"}))
        why = parse.choice(body.get("cancellation_reason"), "cancellation_reason",
                           ("duplicate", "fraudulent", "requested_by_customer", "abandoned"),
                           reason or "requested_by_customer")  # fmt: skip
        with unit_of_work(self.engine, write=False) as conn:
            intent = load(conn, intent_id, caller.merchant_id, caller.livemode)
        if intent.status == IntentStatus.requires_capture and (intent.method_type or "").startswith(
            "card"
        ):
            await self._card_call("reverse", intent, intent.amount_capturable)
        op = IntentOp(caller.merchant_id, caller.livemode, intent.id,
                      lambda tx, cur: steps.cancel(cur, why), idem=idem)  # fmt: skip
        return await self.writer.run_async(op)

    async def _card_call(self, kind: str, intent: Intent, amount: int) -> CardResult:
        """Capture (0200 completion), reversal (0400) or refund of the intent's card charge."""
        if self.card is None:
            raise PaymentError(Kind.unavailable, "issuer_not_available",
                               "The card network is not connected; retry shortly.")  # fmt: skip
        with unit_of_work(self.engine, write=False) as conn:
            charge = charges.load(conn, str(intent.latest_charge))
        original = CardResult(
            **{**charge["network"], "outcome": CardOutcome(charge["network"]["outcome"])}
        )
        card = self._open_card(intent)
        call = getattr(self.card, kind)
        result: CardResult = await call(
            card, original=original, amount_minor=amount, currency=intent.currency,
            merchant_id=intent.merchant_id, reference=f"{intent.id}:{kind}",
        )  # fmt: skip
        if result.outcome != CardOutcome.APPROVED:
            raise PaymentError(Kind.unavailable if result.outcome in (CardOutcome.TIMEOUT,
                               CardOutcome.UNAVAILABLE) else Kind.declined, f"{kind}_failed",
                               f"The card network refused the {kind}: "
                               f"{result.decline_code or result.outcome}.")  # fmt: skip
        return result

    # -- bank transfers and QR -------------------------------------------------------------

    async def _confirm_bank(self, caller: Caller, intent: Intent, *, idem: Idem | None,
                            new: bool) -> Any:  # fmt: skip
        if intent.capture_method == CaptureMethod.manual:
            raise invalid("capture_method_unsupported", "Bank transfers are captured when the "
                          "bank confirms them; use capture_method automatic.",
                          "capture_method")  # fmt: skip
        if self.bank is None:
            raise PaymentError(Kind.unavailable, "bank_unavailable",
                               "No bank is connected (set RONGPAY_BANK_URL).")  # fmt: skip
        attempt = intent.attempts + 1
        return_url = self._return_url(intent)
        try:
            order = await self.bank.create_order(
                reference=f"{intent.id}:{attempt}", amount_minor=intent.amount,
                currency=intent.currency,
                description=(intent.description or intent.id)[:BANK_DESCRIPTION_MAX],
                return_url=return_url, callback_url=f"{self.base_url}/v1/bank/callback",
            )  # fmt: skip
        except BankError as exc:
            kind = Kind.invalid if exc.code == "bank_rejected" else Kind.unavailable
            raise PaymentError(kind, str(exc.code), exc.message) from None

        def step(tx: Tx, current: Intent) -> Plan:
            current = intent if new else _refresh(current, intent)
            return redirects.bank_redirect(current, order.id, order.redirect_url, return_url,
                                           attempt)  # fmt: skip

        op = IntentOp(caller.merchant_id, caller.livemode, intent.id, step,
                      new=intent if new else None, idem=idem)  # fmt: skip
        return await self.writer.run_async(op)

    def _return_url(self, intent: Intent) -> str:
        return f"{self.base_url}/checkout/return/{intent.id}"

    async def bank_callback(self, body: bytes, signature: str | None) -> dict[str, Any]:
        """The bank's signed word on an order; applied once however often it comes."""
        if self.bank is None:
            raise PaymentError(Kind.unavailable, "bank_unavailable", "No bank is connected.")
        try:
            cb = self.bank.parse_callback(body, signature)
        except BankError as exc:
            raise invalid(str(exc.code), exc.message) from None
        if isinstance(cb, BankRefundCallback):
            return await bank_refunds.on_callback(self.engine, self.writer, cb)
        c = store.charges.c
        with unit_of_work(self.engine, write=False) as conn:
            row = conn.execute(sa.select(c.id, c.intent_id, c.merchant_id, c.livemode)
                               .where(c.network_ref == cb.order)).first()  # fmt: skip
        if row is None:
            raise missing("bank order", cb.order, "order")
        op = IntentOp(row.merchant_id, bool(row.livemode), row.intent_id,
                      lambda tx, cur: redirects.bank_outcome(cur, row.id, cb.status,
                                                             cb.failure_code, cb.amount_minor,
                                                             cb.currency, cb.order,
                                                             cb.reference))  # fmt: skip
        change = await self.writer.run_async(op)
        status = str(change.intent.status)
        return {"received": True, "duplicate": bool(change.extra.get("duplicate")),
                "payment_intent": change.intent.id, "status": status}  # fmt: skip

    async def returned(self, intent_id: str) -> Intent:
        """The customer is back from the bank (or the hosted page): the intent as it is now."""
        with unit_of_work(self.engine, write=False) as conn:
            row = conn.execute(sa.select(store.intents.c.merchant_id, store.intents.c.livemode)
                               .where(store.intents.c.id == intent_id)).first()  # fmt: skip
        if row is None:
            raise missing("payment_intent", intent_id)
        op = IntentOp(row.merchant_id, bool(row.livemode), intent_id,
                      lambda tx, cur: redirects.bank_returned(cur))  # fmt: skip
        change: Change = await self.writer.run_async(op)
        return change.intent

    async def pay_qr(self, livemode: bool, raw: object, client: Client) -> Any:
        """A customer's wallet app paid a scanned merchant-presented code (operator call)."""
        body = parse.body(raw, frozenset({"customer", "payload", "amount"}))
        customer = str(parse.text(body.get("customer"), "customer", required=True, limit=40))
        merchant_id, intent_id, code_amount, currency = redirects.parse_scanned(body.get("payload"))
        merchant = merchants.get(self.engine, merchant_id)
        if intent_id is None:  # a static code: the customer typed the amount
            amount = code_amount or body.get("amount")
            caller = Caller(merchant.id, livemode)
            new = {"amount": amount, "currency": currency.lower(), "description": "QR payment",
                   "payment_method_data": {"type": "qr"}, "confirm": True}  # fmt: skip
            created = await self.create(caller, new, idem=None, client=client)
            intent_id = created.intent.id

        def step(tx: Tx, current: Intent) -> Plan:
            cur = redirects.qr_paid(current, customer, code_amount)
            payer = customers.load(tx.conn, customer, livemode, "customer")
            fee = steps.fee_for(merchant, cur, "qr", payer.country)  # cross-border surcharge too
            pm = {**(cur.payment_method or {}), "payer_country": payer.country}
            cur = touch(cur, fee=fee, payment_method=pm)
            spend = wallets.spend_check(tx, payer, cur.amount, cur.currency)
            who = {"payer": customer, "country": payer.country}
            hold = self.compliance.screen(payer.name, payer.country, merchant.country)
            if hold is not None:
                return no_money(steps.held(cur, hold, who))
            risk = self.risk.assess(cur, merchant, customer, payer.country, client.device_id,
                                    client.ip)  # fmt: skip
            if risk["decision"] in ("block", "challenge"):  # a scan cannot be challenged: decline
                error = steps.payment_error("payment_declined", "fraudulent")
                return no_money(steps.failed_attempt(cur, error, risk=risk))

            def count(change: Change) -> None:
                change.extra["payer"] = who
                if change.intent.status != IntentStatus.requires_payment_method:
                    wallets.spend_rows(change, spend)

            return redirects.qr_charge(cur, risk).then(count)

        op = IntentOp(merchant.id, livemode, intent_id, step, extra_keys=(f"cus:{customer}",))
        async with self._serial(intent_id):
            return await self._aftermath(await self.writer.run_async(op), merchant)

    async def _release_now(self, caller: Caller, intent_id: str, raw: object, *,
                      client: Client) -> Any:  # fmt: skip
        """An analyst's decision on a payment held by screening: approve runs the attempt
        (screening and challenge already passed), reject cancels the payment."""
        body = parse.body(raw, frozenset({"decision"}))
        decision = parse.choice(body.get("decision"), "decision", ("approve", "reject"), "")
        if not decision:
            raise invalid("parameter_missing", "`decision` must be approve or reject.", "decision")
        found = self.find(intent_id)
        if found.livemode != caller.livemode:
            raise missing("payment_intent", intent_id)
        owner = Caller(found.merchant_id, found.livemode)
        op = IntentOp(found.merchant_id, found.livemode, intent_id,
                      lambda tx, cur: steps.release_hold(cur, decision == "approve"))  # fmt: skip
        change: Change = await self.writer.run_async(op)
        if decision == "reject":
            return change
        method = self._stored_method(change.intent)
        return await self._confirm(owner, change.intent, method, idem=None, client=client,
                                   new=False, authenticated=True)  # fmt: skip

    # -- refunds and disputes ---------------------------------------------------------------

    async def _refund_now(self, caller: Caller, raw: object, *, idem: Idem | None) -> Any:
        intent_id, asked, reason, metadata = refunds.parse_request(raw)
        try:
            intent = self.retrieve(caller, intent_id)
        except PaymentError as exc:
            exc.param = "payment_intent"  # the refund's parameter that names it
            raise
        if intent.method_type == "bank_transfer":  # asynchronous: bank_refunds.py
            return await bank_refunds.create(self.writer, self.bank, caller, intent_id,
                                             (asked, reason, metadata), idem=idem)  # fmt: skip
        card = (intent.method_type or "").startswith("card")
        if not card:
            op = IntentOp(caller.merchant_id, caller.livemode, intent_id,
                          lambda tx, cur: refunds.reserve(cur, asked, reason, metadata,
                                                          pending=False), idem=idem)  # fmt: skip
            return await self.writer.run_async(op)
        first = IntentOp(caller.merchant_id, caller.livemode, intent_id,
                         lambda tx, cur: refunds.reserve(cur, asked, reason, metadata,
                                                         pending=True),
                         idem=idem, idem_phase="reserve")  # fmt: skip
        reserved = await self.writer.run_async(first)
        if not isinstance(reserved, Change):
            return reserved  # a replayed response
        row = reserved.extra["refund"]
        failure = None
        try:
            await self._card_call("refund", reserved.intent, int(row["amount"]))
        except PaymentError as exc:
            failure = exc.code
        except Exception:  # nothing was refunded that we know of: release the reservation
            log.exception("card refund %s failed unexpectedly", row["id"])
            failure = "processing_error"
        end = IntentOp(caller.merchant_id, caller.livemode, intent_id,
                       lambda tx, cur: refunds.finish(cur, row, failure is None, failure),
                       idem=idem, idem_phase="complete")  # fmt: skip
        return await self.writer.run_async(end)

    async def on_chargeback(self, notice: Chargeback) -> None:
        """The issuer disputes a card payment: hold the funds, open the dispute (idempotent:
        a repeated advice for the same charge changes nothing)."""
        c = store.charges.c
        with unit_of_work(self.engine, write=False) as conn:
            row = conn.execute(sa.select(c.id, c.intent_id, c.merchant_id, c.livemode)
                               .where(c.network_ref == notice.rrn)).first()  # fmt: skip
        if row is None:
            log.warning("chargeback for an unknown transaction (rrn %s): ignored", notice.rrn)
            return
        merchant = merchants.get(self.engine, row.merchant_id)

        def step(tx: Tx, intent: Intent) -> Plan:
            d = store.disputes.c
            exists = tx.conn.execute(sa.select(d.id).where(d.charge_id == row.id)).first()
            if exists is not None:
                return no_money(Change(intent))
            charge = charges.load(tx.conn, row.id)
            return disputes.open_dispute(intent, charge, merchant, notice.amount_minor,
                                         notice.reason)  # fmt: skip

        await self.writer.run_async(
            IntentOp(row.merchant_id, bool(row.livemode), row.intent_id, step)
        )

    def _dispute(self, caller: Caller, dispute_id: str) -> dict[str, Any]:
        with unit_of_work(self.engine, write=False) as conn:
            found = conn.execute(sa.select(store.disputes)
                                 .where(store.disputes.c.id == dispute_id)).first()  # fmt: skip
        if (
            found is None
            or (not caller.is_admin and found.merchant_id != caller.merchant_id)
            or (bool(found.livemode) != caller.livemode)
        ):
            raise missing("dispute", dispute_id)
        out = dict(found._mapping)
        out["evidence"] = orjson.loads(out["evidence"])
        return out

    def get_dispute(self, caller: Caller, dispute_id: str) -> dict[str, Any]:
        return disputes.render(self._dispute(caller, dispute_id))

    async def update_dispute(self, caller: Caller, dispute_id: str, raw: object) -> Any:
        evidence, submit = disputes.parse_update(raw)
        found = self._dispute(caller, dispute_id)
        return await self._dispute_op(found, lambda tx, cur: disputes.update(
            cur, self._dispute(caller, dispute_id), evidence, submit))  # fmt: skip

    async def close_dispute(self, caller: Caller, dispute_id: str, outcome: str) -> Any:
        """The merchant accepts (lost), or the operator records the network's decision."""
        found = self._dispute(caller, dispute_id)
        result = DisputeStatus(outcome)
        return await self._dispute_op(found, lambda tx, cur: disputes.close(
            cur, self._dispute(caller, dispute_id), result))  # fmt: skip

    async def _dispute_op(self, found: dict[str, Any], step: Step) -> Any:
        op = IntentOp(found["merchant_id"], bool(found["livemode"]), found["intent_id"], step)
        return await self.writer.run_async(op)

    async def confirm(
        self, caller: Caller, intent_id: str, raw: object, *, idem: Idem | None, client: Client
    ) -> Any:
        async with self._serial(intent_id):
            return await self._confirm_now(caller, intent_id, raw, idem=idem, client=client)

    async def verify(self, caller: Caller, intent_id: str, raw: object, *, client: Client) -> Any:
        async with self._serial(intent_id):
            return await self._verify_now(caller, intent_id, raw, client=client)

    async def capture(
        self, caller: Caller, intent_id: str, raw: object, *, idem: Idem | None
    ) -> Any:
        async with self._serial(intent_id):
            return await self._capture_now(caller, intent_id, raw, idem=idem)

    async def cancel(
        self,
        caller: Caller,
        intent_id: str,
        raw: object,
        *,
        idem: Idem | None,
        reason: str | None = None,
    ) -> Any:
        async with self._serial(intent_id):
            return await self._cancel_now(caller, intent_id, raw, idem=idem, reason=reason)

    async def release(self, caller: Caller, intent_id: str, raw: object, *, client: Client) -> Any:
        async with self._serial(intent_id):
            return await self._release_now(caller, intent_id, raw, client=client)

    async def refund(self, caller: Caller, raw: object, *, idem: Idem | None) -> Any:
        async with self._serial(refunds.parse_request(raw)[0]):
            return await self._refund_now(caller, raw, idem=idem)

    # -- reads ------------------------------------------------------------------------------

    def retrieve(self, caller: Caller, intent_id: str) -> Intent:
        with unit_of_work(self.engine, write=False) as conn:
            return load(conn, intent_id, caller.merchant_id, caller.livemode)

    async def reconcile_bank(self, older_than_s: int = 600, limit: int = 100) -> int:
        """Ask the bank about transfers and refunds whose callback has not come (it retries
        for a while, then gives up): apply what the bank says, as the callback would have.
        Refund instructions that got no answer are sent again (bank_refunds.reconcile).
        Returns how many changed."""
        if self.bank is None:
            return 0
        refunded = await bank_refunds.reconcile(self.engine, self.writer, self.bank,
                                                older_than_s, limit)  # fmt: skip
        t, c = store.intents.c, store.charges.c
        before = int(time.time()) - older_than_s
        with unit_of_work(self.engine, write=False) as conn:
            rows = conn.execute(
                sa.select(t.id, t.merchant_id, t.livemode, c.id.label("charge"),
                          c.network_ref)
                .join(store.charges, c.id == t.latest_charge)
                .where(t.status.in_(("requires_action", "processing")), t.updated <= before,
                       c.status == "pending", c.network_ref.is_not(None))
                .limit(limit)
            ).all()  # fmt: skip
        changed = 0
        for row in rows:
            try:
                order = await self.bank.get_order(str(row.network_ref))
            except BankError:
                continue  # the bank is down: next time
            if order.status not in ("succeeded", "failed"):
                continue

            def step(tx: Tx, cur: Intent, row: Any = row, order: Any = order) -> Plan:
                return redirects.bank_outcome(
                    cur, row.charge, order.status, getattr(order, "failure_code", None),
                    cur.amount, cur.currency, order.id, f"{cur.id}:{cur.attempts}",
                )  # fmt: skip

            op = IntentOp(row.merchant_id, bool(row.livemode), row.id, step)
            with contextlib.suppress(PaymentError):
                change = await self.writer.run_async(op)
                changed += 0 if change.extra.get("duplicate") else 1
        return changed + refunded

    def find(self, intent_id: str) -> Intent:
        """Any intent by id, for the hosted pages (the id itself is the capability)."""
        with unit_of_work(self.engine, write=False) as conn:
            row = conn.execute(
                sa.select(store.intents).where(store.intents.c.id == intent_id)
            ).first()
        if row is None:
            raise missing("payment_intent", intent_id)
        return from_row(row)

    def expire_due(self, now: int | None = None, limit: int = 500) -> int:
        """Cancel authorisations nobody captured in time (the ledger hold lapses with them)."""
        t = store.intents.c
        when = int(time.time()) if now is None else now
        with unit_of_work(self.engine, write=False) as conn:
            rows = conn.execute(
                sa.select(t.id, t.merchant_id, t.livemode)
                .where(t.status == "requires_capture", t.expires < when).limit(limit)
            ).all()  # fmt: skip
        done = 0
        for row in rows:
            op = IntentOp(row.merchant_id, bool(row.livemode), row.id,
                          lambda tx, cur: steps.cancel(cur, "automatic"))  # fmt: skip
            try:
                self.writer.run(op)
                done += 1
            except PaymentError:
                continue  # captured or canceled meanwhile
        return done


STUCK_AFTER_S = 120  # a card attempt in `processing` longer than this was cut short by a crash


async def recover_stuck(gateway: Gateway, now: int | None = None, limit: int = 200, *,
                        respond: card_recovery.Respond | None = None) -> int:  # fmt: skip
    """Card attempts left in `processing` by a crashed process: each recorded request is
    reversed at the issuer, then the attempt fails and its reserved idempotency key gets that
    answer (RESPOND renders it; without it the key is released). An attempt whose reversal
    cannot reach the issuer waits for the next sweep. Returns how many were failed."""
    when = int(time.time()) if now is None else now
    before = when - STUCK_AFTER_S
    done = await card_recovery.recover(gateway, before=before, respond=respond, limit=limit)
    return done + await _fail_unrecorded(gateway, before, limit)


async def _fail_unrecorded(gateway: Gateway, before: int, limit: int) -> int:
    """Attempts that recorded no request (none was sent: no card network; or from before
    requests were recorded) fail as they are: no ledger transfer was made for them."""
    t, c, r = store.intents.c, store.charges.c, store.card_requests.c
    with unit_of_work(gateway.engine, write=False) as conn:
        rows = conn.execute(
            sa.select(t.id, t.merchant_id, t.livemode)
            .join(store.charges, c.id == t.latest_charge)
            .outerjoin(store.card_requests, r.id == t.latest_charge)
            .where(t.status == "processing", t.updated < before, c.status == "pending",
                   c.network_ref.is_(None), r.id.is_(None))
            .limit(limit)
        ).all()  # fmt: skip
    done = 0
    for row in rows:

        def step(tx: Tx, cur: Intent) -> Plan:
            card = (cur.method_type or "").startswith("card")
            held = ((cur.risk or {}).get("screening") or {}).get("decision") == "hold"
            if cur.status != IntentStatus.processing or not card or held:
                return no_money(Change(cur))  # a screening hold waits for its analyst
            text = "The payment was interrupted; nothing was charged."
            error = steps.payment_error("processing_error", "processing_error", text)
            return no_money(steps.failed_attempt(cur, error, risk=cur.risk,
                                                 charge_id=cur.latest_charge))  # fmt: skip

        op = IntentOp(row.merchant_id, bool(row.livemode), row.id, step)
        change = await gateway.writer.run_async(op)
        done += change.intent.status == IntentStatus.requires_payment_method
    return done


def _unchanged_if_capturable(tx: Tx, intent: Intent) -> Plan:
    steps.require(intent, (IntentStatus.requires_capture,), "capture")
    return no_money(Change(intent))


def _with_method(attached: Intent, step: Step) -> Step:
    """Confirming a stored intent with a method given now: the loaded intent takes it."""
    return lambda tx, current: step(tx, _refresh(current, attached))


def _refresh(current: Intent, attached: Intent) -> Intent:
    allowed = (IntentStatus.requires_payment_method, IntentStatus.requires_confirmation,
               IntentStatus.requires_action)  # fmt: skip
    steps.require(current, allowed, "confirm")
    return replace(current, payment_method=attached.payment_method, fee=attached.fee,
                   status=IntentStatus.requires_confirmation)  # fmt: skip


def _payer_country(intent: Intent) -> str | None:
    """The country the fee's cross-border surcharge was judged on at confirmation: the
    billing country, else the card's issuing country, else the wallet holder's."""
    pm = intent.payment_method or {}
    details = pm.get(str(pm.get("type")))
    card_country = details.get("country") if isinstance(details, dict) else None
    billing = (pm.get("billing_details") or {}).get("country")
    return billing or card_country or pm.get("payer_country")


def _network(result: CardResult) -> dict[str, Any]:
    return {
        "outcome": str(result.outcome), "response_code": result.response_code,
        "decline_code": result.decline_code, "auth_code": result.auth_code, "rrn": result.rrn,
        "stan": result.stan, "latency_ms": round(result.latency_ms, 2),
        "reversal_sent": result.reversal_sent,
        "reversal_acknowledged": result.reversal_acknowledged,
        "mti": result.mti, "transmitted_at": result.transmitted_at,
        "acquirer_id": result.acquirer_id, "processing_code": result.processing_code,
    }  # fmt: skip
