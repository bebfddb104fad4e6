"""Stored-value wallets: top up, transfer between customers, withdraw, and the KYC limits
every outgoing wallet movement (payments included) must respect.

Each movement is a ledger transfer on the customer's `customer_wallet` account (which may not
go below zero), written with a `pay_wallet_operations` row in one transaction through the
payment writer. Top-ups and withdrawals move against the `wallet_funding` account: money
entering or leaving stored value through the operator's bank (simulated here: a top-up is the
operator's confirmation that the customer's funds arrived).

KYC: outgoing amounts are converted to CNY fen and added to the customer's running totals for
the day and the year (`pay_spend`); `compliance.kyc.check_limit` refuses a movement that would
break the tier's per-transaction, daily or yearly limit.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import Any

from rongpay.compliance.aml_params import RiskRating
from rongpay.compliance.kyc import SpendTotals, Tier, check_limit
from rongpay.compliance.reference import cny_factors, to_cny_minor
from rongpay.ledger.types import CreateTransferResult, Transfer
from rongpay.payments import accounts, customers, parse, store
from rongpay.payments.errors import Kind, PaymentError, invalid
from rongpay.payments.types import new_id
from rongpay.payments.writer import Op, Tx
from rongpay.store.uow import unit_of_work

OK = (CreateTransferResult.ok, CreateTransferResult.exists)


def _periods(now: float) -> tuple[str, str]:
    return _day_and_year(int(now // 86_400))


@functools.lru_cache(maxsize=4)
def _day_and_year(epoch_day: int) -> tuple[str, str]:
    """The UTC day's and year's total ids (formatting a date on every payment showed up in
    the profile; the answer changes once a day)."""
    day = datetime.fromtimestamp(epoch_day * 86_400, UTC)
    return f"D{day:%Y-%m-%d}", f"Y{day:%Y}"


# runs on every outgoing wallet movement: plain SQL, no statement compilation
_SPEND = "SELECT id, total_cny_minor FROM pay_spend WHERE id IN (?, ?)"


def _totals(tx: Tx, customer: Any) -> tuple[list[str], dict[str, int], set[str]]:
    """The customer's day and year total ids, what they hold now (counting what earlier ops
    of the same group reserved: their rows are not written yet), and which rows exist."""
    mode = "L" if customer.livemode else "T"
    day, year = _periods(time.time())
    ids = [f"{customer.id}:{mode}:{day}", f"{customer.id}:{mode}:{year}"]
    rows: dict[str, int] = dict(tx.sql.all(_SPEND, ids))
    pending = tx.group.setdefault("spend", {})
    return ids, {i: rows.get(i, 0) + pending.get(i, 0) for i in ids}, set(rows)


def _reserve(tx: Tx, ids: list[str], totals: dict[str, int], known: set[str],
             cny: int) -> list[tuple[str, int, bool]]:  # fmt: skip
    for i in ids:
        tx.group["spend"][i] = tx.group["spend"].get(i, 0) + cny
    return [(i, totals[i] + cny, i in known) for i in ids]


def spend_add(tx: Tx, customer: Any, amount: int, currency: str) -> list[tuple[str, int, bool]]:
    """The rows that add AMOUNT to the customer's totals (no limit check)."""
    cny = to_cny_minor(amount, currency) if currency in cny_factors() else 0
    ids, totals, known = _totals(tx, customer)
    return _reserve(tx, ids, totals, known, cny)


def spend_check(tx: Tx, customer: Any, amount: int, currency: str) -> list[tuple[str, int, bool]]:
    """Refuse (PaymentError `kyc_limit_exceeded`) or return the spend rows to write:
    (id, new total, exists). The amount is reserved in the group at once, so two payments of
    one customer in one group commit cannot both pass a limit only one of them fits."""
    cny = to_cny_minor(amount, currency) if currency in cny_factors() else 0
    ids, totals, known = _totals(tx, customer)
    spent = SpendTotals(totals[ids[0]], totals[ids[1]])
    decision = check_limit(Tier(customer.kyc_tier), RiskRating.LOW, spent, amount, currency)
    if not decision.allowed:
        raise PaymentError(
            Kind.declined, "kyc_limit_exceeded",
            f"This would exceed the customer's {customer.kyc_tier} KYC limit "
            f"({decision.reason}); verify the customer to raise it.",
        )  # fmt: skip
    return _reserve(tx, ids, totals, known, cny)


def write_spend(tx: Tx, rows: list[tuple[str, int, bool]]) -> None:
    for spend_id, total, exists in rows:
        if exists:
            tx.update(store.spend, spend_id, {"total_cny_minor": total})
        else:
            tx.insert(store.spend, {"id": spend_id, "total_cny_minor": total})


def spend_rows(change: Any, rows: list[tuple[str, int, bool]]) -> None:
    """The same rows, added to an intent op's Change."""
    for spend_id, total, exists in rows:
        if exists:
            change.updates.append((store.spend, spend_id, {"total_cny_minor": total}))
        else:
            change.inserts.append((store.spend, {"id": spend_id, "total_cny_minor": total}))


def render(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "object": "wallet_operation", "type": row["type"],
        "customer": row["customer_id"], "counterparty": row["counterparty"],
        "amount": row["amount"], "currency": row["currency"].lower(), "status": row["status"],
        "failure_code": row["failure_code"], "livemode": bool(row["livemode"]),
        "created": row["created"],
    }  # fmt: skip


class WalletOp(Op[dict[str, Any]]):
    """Top-up, transfer or withdrawal of AMOUNT CURRENCY for CUSTOMER."""

    def __init__(self, kind: str, livemode: bool, customer: str, amount: int, currency: str,
                 counterparty: str | None = None, **idem: Any) -> None:  # fmt: skip
        super().__init__(**idem)
        self.kind, self.livemode, self.customer = kind, livemode, customer
        self.amount, self.currency, self.counterparty = amount, currency, counterparty
        self.keys = (customer,) + ((counterparty,) if counterparty else ())
        self.spend: list[tuple[str, int, bool]] = []
        self.op_id = new_id("wop")

    def prepare(self, tx: Tx) -> None:
        if self.kind == "topup" and self.currency not in cny_factors():
            raise invalid("currency_unsupported", f"Wallets hold only currencies whose KYC limits "
                          f"can be judged (a CNY reference rate); {self.currency} has none.",
                          "currency")  # fmt: skip
        cus = customers.load(tx.conn, self.customer, self.livemode, "customer")
        wallet = accounts.wallet(self.livemode, self.customer, self.currency)
        funding = accounts.wallet_funding(self.livemode, self.currency)
        self.spend = []
        if self.kind == "topup":
            debit, credit, code = funding, wallet, accounts.TOPUP
        elif self.kind == "withdrawal":
            debit, credit, code = wallet, funding, accounts.WITHDRAWAL
            self.spend = spend_check(tx, cus, self.amount, self.currency)
        else:
            assert self.counterparty is not None
            customers.load(tx.conn, self.counterparty, self.livemode, "to")
            debit, credit = wallet, accounts.wallet(self.livemode, self.counterparty, self.currency)
            code = accounts.WALLET_TRANSFER
            self.spend = spend_check(tx, cus, self.amount, self.currency)
        self.accounts = [debit, credit]
        self.transfers = [Transfer(self.op_id, debit.id, credit.id, self.amount, self.currency,
                                   code, 0, None, 0, self.op_id)]  # fmt: skip

    def finish(self, tx: Tx, results: list[CreateTransferResult]) -> dict[str, Any]:
        ok = results[0] in OK
        row = {
            "id": self.op_id, "livemode": self.livemode, "type": self.kind,
            "customer_id": self.customer, "counterparty": self.counterparty,
            "amount": self.amount, "currency": self.currency,
            "status": "succeeded" if ok else "failed",
            "failure_code": None if ok else "balance_insufficient", "created": int(time.time()),
        }  # fmt: skip
        tx.insert(store.wallet_operations, row)
        if ok:
            write_spend(tx, self.spend)
        return render(row)


def parse_movement(raw: object, fields: frozenset[str]) -> tuple[dict[str, Any], int, str]:
    body = dict(parse.body(raw, fields))
    cur = parse.currency(body.get("currency"))
    return body, parse.positive_amount(body.get("amount")), cur


def balances(engine: Any, customer_id: str, livemode: bool) -> dict[str, Any]:
    from rongpay.ledger import service as ledger

    with unit_of_work(engine, write=False) as conn:
        customers.load(conn, customer_id, livemode)
    prefix = accounts.wallet(livemode, customer_id, "XXX").id[:-3]
    out = []
    for a in ledger.list_accounts(engine, after_id=prefix, limit=200):
        if not a.id.startswith(prefix):
            break  # ids are in text order: this customer's wallets come first
        out.append({"currency": a.ledger.lower(), "available": a.credits_posted - a.debits_posted
                    - a.debits_pending, "pending": a.credits_pending})  # fmt: skip
    return {"object": "wallet_balance", "customer": customer_id, "livemode": livemode,
            "balances": out}  # fmt: skip


def refuse_self(customer: str, to: str) -> None:
    if customer == to:
        raise invalid("parameter_invalid", "A wallet cannot transfer to itself.", "to")
