"""Disputes (chargebacks): opened by the card channel when the issuer sends a chargeback
advice (ISO 8583 0422), answered with evidence through the API, then won or lost.

Money, in the ledger:
- opened: the disputed amount is HELD from the merchant (a pending transfer merchant ->
  card clearing, no timeout) and the dispute fee is charged (merchant -> fees);
- won: the hold is voided (funds reinstated); lost: the hold is posted (funds withdrawn).
Every step is an event (`charge.dispute.created`, `.funds_withdrawn`, `.updated`,
`.funds_reinstated`, `.closed`). In test mode, evidence whose `uncategorized_text` is
"winning_evidence" or "losing_evidence" decides the dispute at once, as Stripe's test mode
does; otherwise the operator records the network's decision (`resolve`).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from rongpay.ledger.types import T_LINKED, T_PENDING, T_POST, T_VOID, Transfer
from rongpay.payments import accounts, parse, store
from rongpay.payments.errors import invalid, unexpected_state
from rongpay.payments.intents import Intent, involved_accounts
from rongpay.payments.ops import Change, Plan
from rongpay.payments.steps import OK
from rongpay.payments.types import DisputeStatus, Merchant, new_id

RESPONSE_WINDOW_S = 7 * 24 * 3600
EVIDENCE_FIELDS = frozenset({
    "product_description", "customer_name", "customer_email", "receipt", "shipping_tracking",
    "uncategorized_text", "refund_policy", "service_date",
})  # fmt: skip
MAX_EVIDENCE_TEXT = 20_000
TEST_OUTCOMES = {"winning_evidence": DisputeStatus.won, "losing_evidence": DisputeStatus.lost}


def render(row: dict[str, Any]) -> dict[str, Any]:
    evidence = row["evidence"]
    return {
        "id": row["id"], "object": "dispute", "amount": row["amount"],
        "currency": row["currency"].lower(), "charge": row["charge_id"],
        "payment_intent": row["intent_id"], "status": row["status"], "reason": row["reason"],
        "evidence": orjson.loads(evidence) if isinstance(evidence, str) else evidence,
        "evidence_details": {"due_by": row["evidence_due_by"]},
        "livemode": bool(row["livemode"]), "created": row["created"],
    }  # fmt: skip


def _hold_id(dispute_id: str) -> str:
    return f"{dispute_id}:hold"


def open_dispute(intent: Intent, charge: dict[str, Any], merchant: Merchant, amount: int,
                 reason: str) -> Plan:  # fmt: skip
    """Hold the disputed amount and charge the dispute fee, linked: both or neither."""
    now = int(time.time())
    amount = min(amount, charge["amount_captured"] - charge["amount_refunded"]) or amount
    row = {
        "id": new_id("dp"), "charge_id": charge["id"], "intent_id": intent.id,
        "merchant_id": intent.merchant_id, "livemode": intent.livemode, "amount": amount,
        "currency": intent.currency, "status": str(DisputeStatus.needs_response),
        "reason": reason, "evidence": "{}", "evidence_due_by": now + RESPONSE_WINDOW_S,
        "created": now, "updated": now,
    }  # fmt: skip
    mine = accounts.merchant(intent.livemode, intent.merchant_id, intent.currency).id
    clearing = accounts.clearing(intent.livemode, "card", intent.currency).id
    fee = (
        int(merchant.fee_schedule.get("dispute_fee", 0))
        if intent.currency == merchant.default_currency
        else 0
    )
    flags = T_PENDING | (T_LINKED if fee else 0)
    hold = Transfer(_hold_id(row["id"]), mine, clearing, amount, intent.currency,
                    accounts.DISPUTE_HOLD, flags, None, 0, intent.id)  # fmt: skip
    transfers = [hold]
    if fee:
        fees = accounts.fees(intent.livemode, intent.currency).id
        transfers.append(Transfer(f"{row['id']}:fee", mine, fees, fee, intent.currency,
                                  accounts.DISPUTE_FEE, 0, None, 0, intent.id))  # fmt: skip
    change = Change(intent, inserts=[(store.disputes, row)],
                    updates=[(store.charges, charge["id"], {"disputed": True})],
                    extra={"dispute": row})  # fmt: skip
    change.event("charge.dispute.created", render(row))
    change.event("charge.dispute.funds_withdrawn", render(row))

    def settle(results: list[Any]) -> Change:
        assert all(r in OK for r in results), results
        return change

    accts = [
        *involved_accounts(intent),
        accounts.clearing(intent.livemode, "card", intent.currency),
    ]
    return Plan(settle, transfers, accts)


def parse_update(raw: object) -> tuple[dict[str, str], bool]:
    body = parse.body(raw, frozenset({"evidence", "submit"}))
    evidence: dict[str, str] = {}
    if body.get("evidence") is not None:
        given = parse.body(body["evidence"], EVIDENCE_FIELDS)
        for key, value in given.items():
            text = parse.text(value, f"evidence[{key}]", required=True, limit=MAX_EVIDENCE_TEXT)
            evidence[key] = str(text)
    return evidence, parse.boolean(body.get("submit"), "submit", True)


def update(intent: Intent, dispute: dict[str, Any], evidence: dict[str, str], submit: bool) -> Plan:
    """Add evidence; submitting it puts the dispute under review (test mode may decide now)."""
    status = dispute["status"]
    if status not in (DisputeStatus.needs_response, DisputeStatus.under_review):
        raise unexpected_state("dispute", dispute["id"], status, "update")
    merged = {**dispute["evidence"], **evidence}
    new_status = DisputeStatus.under_review if submit else DisputeStatus(status)
    row = {**dispute, "evidence": merged, "status": str(new_status), "updated": int(time.time())}
    outcome = None
    if submit and not intent.livemode:
        outcome = TEST_OUTCOMES.get(merged.get("uncategorized_text", ""))
    if outcome is not None:
        return close(intent, row, outcome)
    change = Change(intent, extra={"dispute": row}, updates=[(store.disputes, dispute["id"], {
        "evidence": orjson.dumps(merged).decode(), "status": row["status"],
        "updated": row["updated"]})])  # fmt: skip
    change.event("charge.dispute.updated", render(row))
    return Plan(lambda _: change)


def close(intent: Intent, dispute: dict[str, Any], outcome: DisputeStatus) -> Plan:
    """Won: void the hold (funds back to the merchant). Lost: post it."""
    if dispute["status"] in (DisputeStatus.won, DisputeStatus.lost):
        raise unexpected_state("dispute", dispute["id"], dispute["status"], "close")
    if outcome not in (DisputeStatus.won, DisputeStatus.lost):
        raise invalid("parameter_invalid", "`outcome` must be won or lost.", "outcome")
    row = {**dispute, "status": str(outcome), "updated": int(time.time())}
    evidence = row["evidence"]
    text = evidence if isinstance(evidence, str) else orjson.dumps(evidence).decode()
    values = {"status": row["status"], "updated": row["updated"], "evidence": text}
    change = Change(intent, extra={"dispute": row}, updates=[(store.disputes, row["id"], values)])
    if outcome == DisputeStatus.won:
        change.event("charge.dispute.funds_reinstated", render(row))
    change.event("charge.dispute.closed", render(row))
    flag = T_VOID if outcome == DisputeStatus.won else T_POST
    settle_transfer = Transfer(f"{row['id']}:{outcome}", None, None, 0, None, None, flag,
                               _hold_id(row["id"]), 0, intent.id)  # fmt: skip

    def settle(results: list[Any]) -> Change:
        assert all(r in OK for r in results), results
        return change

    return Plan(settle, [settle_transfer], involved_accounts(intent))
