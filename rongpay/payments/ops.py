"""The payment intent op: load (or create) one intent, plan its ledger transfers, settle.

Every intent use case is a `Step`: a function from the transaction and the intent as it is
now to a `Plan` (the transfers to submit and how to settle once the ledger has judged them).
Settling yields a `Change`: the intent as it becomes, rows to add, events to emit. The op
writes them in the writer's transaction, so the intent, its charge, its ledger transfers, its
events and its idempotent response commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rongpay.ledger.types import Account, CreateTransferResult, Transfer
from rongpay.payments import intents, render, store
from rongpay.payments.intents import Intent
from rongpay.payments.writer import Op, Tx

Results = list[CreateTransferResult]


@dataclass(slots=True)
class Change:
    intent: Intent
    inserts: list[tuple[sa.Table, dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[sa.Table, str, dict[str, Any]]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    direct: list[Callable[[Connection], None]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def event(self, type_: str, obj: dict[str, Any] | None = None) -> None:
        self.events.append((type_, obj if obj is not None else render.intent(self.intent)))


@dataclass(slots=True)
class Plan:
    settle: Callable[[Results], Change]
    transfers: list[Transfer] = field(default_factory=list)
    accounts: list[Account] = field(default_factory=list)

    def then(self, after: Callable[[Change], None]) -> Plan:
        """This plan, with AFTER applied to its Change once the ledger has judged it."""
        settle = self.settle

        def settled(results: Results) -> Change:
            change = settle(results)
            after(change)
            return change

        self.settle = settled
        return self


def no_money(change: Change) -> Plan:
    """A plan that moves nothing and settles to CHANGE."""
    return Plan(lambda _: change)


Step = Callable[[Tx, Intent], Plan]


class IntentOp(Op[Change]):
    """Run STEP on the intent INTENT_ID of CALLER's merchant and mode, or on NEW (inserted)."""

    def __init__(
        self,
        merchant_id: str,
        livemode: bool,
        intent_id: str,
        step: Step,
        *,
        new: Intent | None = None,
        extra_keys: tuple[str, ...] = (),
        **idem: Any,
    ) -> None:
        super().__init__(**idem)
        self.merchant_id = merchant_id
        self.livemode = livemode
        self.intent_id = intent_id
        self.step = step
        self.new = new
        self.keys = (intent_id, *extra_keys)
        self.before: Intent | None = None
        self.plan: Plan | None = None

    def prepare(self, tx: Tx) -> None:
        if self.new is not None:
            self.before = None
            current = self.new
        else:
            current = intents.load(tx.conn, self.intent_id, self.merchant_id, self.livemode)
            self.before = current
        self.plan = self.step(tx, current)
        self.transfers = self.plan.transfers
        self.accounts = self.plan.accounts

    def finish(self, tx: Tx, results: Results) -> Change:
        assert self.plan is not None
        change = self.plan.settle(results)
        after = change.intent
        if self.before is None:
            tx.insert(store.intents, intents.to_row(after))
            if not any(t == "payment_intent.created" for t, _ in change.events):
                change.events.insert(0, ("payment_intent.created", render.intent(after)))
        else:
            delta = intents.changes(self.before, after)
            if delta:
                tx.update(store.intents, after.id, delta)
        for table, row in change.inserts:
            tx.insert(table, row)
        for table, object_id, values in change.updates:
            tx.update(table, object_id, values)
        for write in change.direct:
            write(tx.conn)
        for type_, obj in change.events:
            tx.events.append((after.merchant_id, after.livemode, type_, obj, after.updated))
        return change
