"""The gateway's use cases for payment intents: create, confirm, verify a challenge, capture,
cancel, release a held payment, refund. Each is async because channels answer over the
network; database work goes through the group-commit writer (writer.py).

This module holds the Gateway: construction, create and the confirm dispatch, the wallet step
and the decision every attempt goes through (screening, then risk: `_decide`, `_review_case`,
`_aftermath`), one request at a time per intent (`_serial`), and the public entry points.
Each channel's flow is a module of functions taking the gateway first, which the entry
points call:

    card_flow.py     card confirmation (two commits around the issuer) and card calls
    bank_flow.py     bank transfers: the order, the bank's callback, reconciliation
    qr_flow.py       QR codes: shown at confirmation, paid when scanned
    capture_flow.py  capture and cancel
    refund_flow.py   refunds, by channel
    dispute_flow.py  chargebacks and disputes
    upkeep.py        expiry of uncaptured authorisations, recovery of stuck card attempts
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rongpay.ledger.store import Sql
from rongpay.payments import (
    bank_flow,
    capture_flow,
    card_flow,
    dispute_flow,
    idempotency,
    merchants,
    methods,
    parse,
    qr_flow,
    refund_flow,
    refunds,
    steps,
    store,
    upkeep,
    wallets,
)
from rongpay.payments.channels.bank import BankChannel
from rongpay.payments.channels.card import CardNetwork, Chargeback
from rongpay.payments.compliance_gate import ComplianceGate
from rongpay.payments.errors import Kind, PaymentError, invalid, missing
from rongpay.payments.idempotency import Idem, Stored
from rongpay.payments.intents import Intent, from_row, load, touch
from rongpay.payments.methods import MethodInput
from rongpay.payments.ops import Change, IntentOp, Plan, Step, no_money
from rongpay.payments.risk_gate import RiskGate
from rongpay.payments.steps import reattach
from rongpay.payments.types import Caller, CaptureMethod, IntentStatus, new_id
from rongpay.payments.writer import Tx, writer_for
from rongpay.security.store import insert_record
from rongpay.security.vault import Vault
from rongpay.store.uow import unit_of_work

CREATE_FIELDS = frozenset({
    "amount", "currency", "capture_method", "confirm", "customer", "description", "metadata",
    "payment_method_data", "return_url",
})  # fmt: skip
CONFIRM_FIELDS = frozenset({"payment_method_data", "return_url"})


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
        self.cvc: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, list[Any]] = {}  # intent id -> [lock, holders and waiters]

    @property
    def writer(self) -> Any:
        return writer_for(self.engine)

    # -- create and confirm -----------------------------------------------------------------

    async def create(
        self, caller: Caller, raw: object, *, idem: Idem | None, client: Client
    ) -> Any:
        body = parse.body(raw, CREATE_FIELDS)
        pmd = body.get("payment_method_data")
        bank = isinstance(pmd, dict) and pmd.get("type") == "bank_transfer"
        if bank and (stored := self.replay(idem)) is not None:  # the bank is asked first
            return stored
        merchant = merchants.get(self.engine, caller.merchant_id)
        cur = parse.currency(body.get("currency"))  # parsed in this order: the error precedence
        amount = parse.amount(body.get("amount"), cur)
        capture = CaptureMethod(parse.choice(body.get("capture_method"), "capture_method",
                                             ("automatic", "manual"), "automatic"))  # fmt: skip
        customer_id = parse.text(body.get("customer"), "customer", limit=40)
        description = parse.text(body.get("description"), "description")
        metadata = parse.metadata(body.get("metadata"))
        method = self._method(body.get("payment_method_data"))
        now = int(time.time())
        intent = Intent(
            id=new_id("pi"), merchant_id=merchant.id, livemode=caller.livemode,
            status=IntentStatus.requires_payment_method, amount=amount, currency=cur,
            fee_quote=steps.fee_quote(merchant, amount, cur), capture_method=capture,
            customer_id=customer_id, description=description, metadata=metadata, created=now,
            updated=now, return_url=parse.url(body.get("return_url"), "return_url"),
        )  # fmt: skip
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
        if (stored := self.replay(idem)) is not None:
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
    async def serial(self, intent_id: str) -> AsyncIterator[None]:
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

    def replay(self, idem: Idem | None) -> Stored | None:
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
            card = card_flow.open_card(self, intent)
            return MethodInput(pm, card=card)
        return MethodInput(pm)

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
            return await self.aftermath(await self.writer.run_async(op), merchant)
        if method.type in ("card", "card_present"):
            return await card_flow.confirm_card(self, caller, intent, method, idem=idem,
                                                client=client, new=new,
                                                authenticated=authenticated)  # fmt: skip
        if method.type == "bank_transfer":
            return await bank_flow.confirm_bank(self, caller, intent, idem=idem, new=new)
        if method.type == "qr":
            return await qr_flow.confirm_qr(self, caller, intent, merchant, idem=idem, new=new)
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

            plan = self.decide(intent, merchant, payer.id, payer.country, client, authenticated,
                                go, name=payer.name)  # fmt: skip
            return plan.then(lambda change: steps.code_outcome(change, code))

        return step

    def decide(self, intent: Intent, merchant: Any, payer: str, country: str | None,
                client: Client, authenticated: bool, go: Any,
                name: str | None = None) -> Plan:  # fmt: skip
        """Screening first (a cross-border payer on a sanctions list holds the payment), then
        risk: block declines, challenge asks for a code, review and allow go on. An attempt
        re-run after a passed challenge or an analyst's release skips both."""
        who = {"payer": payer, "country": country}
        if not authenticated:
            hold = self.compliance.screen(name, country, merchant.country)
            if hold is not None:
                return no_money(self.held(intent, hold, who))
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
        return plan.then(tell).then(self.review_case(who))

    def held(self, intent: Intent, hold: dict[str, Any], who: dict[str, Any]) -> Change:
        """Screening matched the payer: the payment waits for an analyst, whose case is
        written in the same transaction."""
        held = steps.held(intent, hold, who)
        i = held.intent
        held.direct.append(self.compliance.case_write(
            f"screening:{i.id}:{i.attempts}", "sanctions_screening", str(hold["name"]), i, 1.0,
            f"payment {i.id} held: payer {hold['name']!r} matches "
            + ", ".join(m["caption"] for m in hold["matches"])))  # fmt: skip
        return held

    def review_case(self, who: dict[str, Any]) -> Callable[[Change], None]:
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

    async def aftermath(self, result: Any, merchant: Any) -> Any:
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

    # -- challenge and an analyst's release -----------------------------------------------

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

    # -- the entry points that change an intent: one request at a time per intent ----------

    async def confirm(
        self, caller: Caller, intent_id: str, raw: object, *, idem: Idem | None, client: Client
    ) -> Any:
        async with self.serial(intent_id):
            return await self._confirm_now(caller, intent_id, raw, idem=idem, client=client)

    async def verify(self, caller: Caller, intent_id: str, raw: object, *, client: Client) -> Any:
        async with self.serial(intent_id):
            return await self._verify_now(caller, intent_id, raw, client=client)

    async def capture(
        self, caller: Caller, intent_id: str, raw: object, *, idem: Idem | None
    ) -> Any:
        async with self.serial(intent_id):
            return await capture_flow.capture(self, caller, intent_id, raw, idem=idem)

    async def cancel(
        self,
        caller: Caller,
        intent_id: str,
        raw: object,
        *,
        idem: Idem | None,
        reason: str | None = None,
    ) -> Any:
        async with self.serial(intent_id):
            return await capture_flow.cancel(self, caller, intent_id, raw, idem=idem, reason=reason)

    async def release(self, caller: Caller, intent_id: str, raw: object, *, client: Client) -> Any:
        async with self.serial(intent_id):
            return await self._release_now(caller, intent_id, raw, client=client)

    async def refund(self, caller: Caller, raw: object, *, idem: Idem | None) -> Any:
        async with self.serial(refunds.parse_request(raw)[0]):
            return await refund_flow.refund(self, caller, raw, idem=idem)

    # -- the channels' entry points (their flows: the *_flow.py modules) -------------------

    async def pay_qr(self, livemode: bool, raw: object, client: Client) -> Any:
        """A customer's wallet app paid a scanned merchant-presented code (operator call)."""
        return await qr_flow.pay_qr(self, livemode, raw, client)

    async def bank_callback(self, body: bytes, signature: str | None) -> dict[str, Any]:
        """The bank's signed word on an order; applied once however often it comes."""
        return await bank_flow.bank_callback(self, body, signature)

    async def returned(self, intent_id: str) -> Intent:
        """The customer is back from the bank (or the hosted page): the intent as it is now."""
        return await bank_flow.returned(self, intent_id)

    async def reconcile_bank(self, older_than_s: int = 600, limit: int = 100) -> int:
        """Ask the bank about transfers and refunds whose callback has not come; returns how
        many changed (bank_flow.reconcile_bank)."""
        return await bank_flow.reconcile_bank(self, older_than_s, limit)

    async def on_chargeback(self, notice: Chargeback) -> None:
        """The issuer disputes a card payment: hold the funds, open the dispute (idempotent)."""
        await dispute_flow.on_chargeback(self, notice)

    def get_dispute(self, caller: Caller, dispute_id: str) -> dict[str, Any]:
        return dispute_flow.get_dispute(self, caller, dispute_id)

    async def update_dispute(self, caller: Caller, dispute_id: str, raw: object) -> Any:
        return await dispute_flow.update_dispute(self, caller, dispute_id, raw)

    async def close_dispute(self, caller: Caller, dispute_id: str, outcome: str) -> Any:
        """The merchant accepts (lost), or the operator records the network's decision."""
        return await dispute_flow.close_dispute(self, caller, dispute_id, outcome)

    def expire_due(self, now: int | None = None, limit: int = 500) -> int:
        """Cancel authorisations nobody captured in time (upkeep.expire_due)."""
        return upkeep.expire_due(self, now, limit)

    # -- reads ------------------------------------------------------------------------------

    def retrieve(self, caller: Caller, intent_id: str) -> Intent:
        with unit_of_work(self.engine, write=False) as conn:
            return load(conn, intent_id, caller.merchant_id, caller.livemode)

    def find(self, intent_id: str) -> Intent:
        """Any intent by id, for the hosted pages (the id itself is the capability)."""
        with unit_of_work(self.engine, write=False) as conn:
            row = conn.execute(
                sa.select(store.intents).where(store.intents.c.id == intent_id)
            ).first()
        if row is None:
            raise missing("payment_intent", intent_id)
        return from_row(row)


def _with_method(attached: Intent, step: Step) -> Step:
    """Confirming a stored intent with a method given now: the loaded intent takes it."""
    return lambda tx, current: step(tx, reattach(current, attached))
