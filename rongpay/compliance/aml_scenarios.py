"""AML scenarios: each watches the event stream and keeps only the bounded state it needs.

Every scenario has `observe(event) -> list[Alert]`. State per account is pruned by the
scenario's window, so memory follows the number of active accounts, not of events.
Merchants (accounts paid by customers with an MCC) are never subjects of fan-in; payroll and
other bulk payouts (batches, recurring payees) are never subjects of fan-out. Salary payers
are recognised by behaviour (`Payroll`: many payees paid again one pay cycle later with about
the same amount); their payroll flows (the funding top-up and the salaries) raise neither
large_value, dormant_reactivation nor fan_out alerts.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from rongpay.compliance.aml_params import (
    DAY_S,
    HOUR_S,
    AmlParams,
    PayrollParams,
    RiskRating,
    Scenario,
    scaled,
    scaled_count,
)
from rongpay.compliance.events import Event
from rongpay.compliance.reference import fatf_lists

MOVES = frozenset({"transfer", "topup", "withdrawal"})  # money moved by the customer
MAX_REMEMBERED_PAYEES = 5_000  # per payer, for recurring-payee detection
UNKNOWN_ACCOUNT = "unknown:"  # + event id: the subject of an alert on an event with no account


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    scenario: Scenario
    accounts: tuple[str, ...]
    transactions: tuple[str, ...]
    score: float
    summary: str
    ts_s: int
    amount_cny_minor: int
    # The alert_id of the earlier alert on the same scenario and subject this one continues
    # (raised within the cooldown: the same case, more transactions), else None.
    follows: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "alert_id": self.alert_id,
            "scenario": str(self.scenario),
            "accounts": list(self.accounts),
            "transactions": list(self.transactions),
            "score": self.score,
            "summary": self.summary,
            "ts": datetime.fromtimestamp(self.ts_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "amount_cny_minor": self.amount_cny_minor,
            "follows": self.follows,
        }


def make_alert(
    scenario: Scenario,
    accounts: list[str],
    transactions: list[str],
    score: float,
    summary: str,
    ts_s: int,
    amount_cny_minor: int,
) -> Alert:
    digest = hashlib.blake2b(
        "|".join([scenario, *transactions]).encode(), digest_size=8
    ).hexdigest()
    accounts = list(dict.fromkeys(accounts))
    assert accounts, "an alert has a subject"
    score = round(min(1.0, max(0.0, score)), 3)
    return Alert(
        f"aml_{digest}",
        scenario,
        tuple(accounts),
        tuple(transactions),
        score,
        summary,
        ts_s,
        amount_cny_minor,
    )


def cny(amount_minor: int) -> str:
    return f"{amount_minor / 100:,.2f} CNY"


class Payee:
    """What a payer's earlier payments to one payee tell: when first and last, how much last."""

    __slots__ = ("first_s", "last_amount", "last_s")

    def __init__(self, ts_s: int, amount: int) -> None:
        self.first_s = ts_s
        self.last_s = ts_s
        self.last_amount = amount


class PayRun:
    """A payer's transfers grouped into runs (a gap of `run_gap_h` starts a new run)."""

    __slots__ = ("largest", "largest_wide", "last_s", "payees", "recurring", "topup", "total")

    def __init__(self) -> None:
        self.last_s = 0
        self.total = 0  # CNY fen paid in the current run
        self.recurring = 0  # recurring payments in the current run
        self.largest = 0  # the largest run total that held recurring payments
        self.payees: set[str] = set()  # distinct payees of the run (up to min_recurring_payees)
        self.largest_wide = 0  # the largest run total paid to that many distinct payees
        self.topup: tuple[int, int] | None = None  # the last top-up: (ts, amount)


class Payroll:
    """Recognises salary payers by behaviour, with O(1) work per event.

    A payee paid again between `cycle_min_days` and `cycle_max_days` after the last payment,
    with an amount within `amount_tolerance_pct` of it, is a recurring payee of that payer.
    A payer with `min_recurring_payees` of them is a payroll payer, remembered for good. Its
    payroll flows are the transfers of a pay run holding recurring payments, and its top-ups
    of up to `funding_pct` of its largest pay run (the money that funds the next run). A
    top-up that recurs (about the same amount one pay cycle after the last one) of up to
    `funding_pct` of a run paid to that many distinct payees funds a pay run too, even before
    the salaries themselves have recurred (the second payday).
    """

    def __init__(self, p: PayrollParams) -> None:
        self.p = p
        self.payees: dict[str, dict[str, Payee]] = {}
        self.recurring: dict[str, set[str]] = {}
        self.runs: dict[str, PayRun] = {}
        self.payers: set[str] = set()

    def observe(self, e: Event) -> bool:
        """Record E; True when E is a payroll flow of a recognised payroll payer."""
        if e.type == "topup":
            account = e.payee or e.payer
            return self._funding(account, e) if account else False
        if e.type != "transfer" or not e.payer or not e.payee or e.payer == e.payee:
            return False
        run = self._run(e.payer)
        if e.ts_s - run.last_s > self.p.run_gap_h * HOUR_S:
            run.total = run.recurring = 0
            run.payees.clear()
        run.last_s = e.ts_s
        run.total += e.amount_cny_minor
        if self._recurring(e.payer, e.payee, e.ts_s, e.amount_cny_minor):
            run.recurring += 1
        if run.recurring:
            run.largest = max(run.largest, run.total)
        if len(run.payees) < self.p.min_recurring_payees:
            run.payees.add(e.payee)
        if len(run.payees) >= self.p.min_recurring_payees:
            run.largest_wide = max(run.largest_wide, run.total)
        return e.payer in self.payers and run.recurring > 0

    def _run(self, account: str) -> PayRun:
        run = self.runs.get(account)
        if run is None:
            run = self.runs[account] = PayRun()
        return run

    def _funding(self, account: str, e: Event) -> bool:
        """Whether a top-up of ACCOUNT funds its payroll (see the class docstring)."""
        run = self._run(account)
        amount, last = e.amount_cny_minor, run.topup
        run.topup = (e.ts_s, amount)
        if account in self.payers and amount * 100 <= self.p.funding_pct * run.largest:
            return True
        if last is None or amount * 100 > self.p.funding_pct * run.largest_wide:
            return False
        gap_days = (e.ts_s - last[0]) / DAY_S
        similar = abs(amount - last[1]) * 100 <= self.p.amount_tolerance_pct * last[1]
        return similar and self.p.cycle_min_days <= gap_days <= self.p.cycle_max_days

    def _recurring(self, payer: str, payee: str, ts_s: int, amount: int) -> bool:
        known = self.payees.setdefault(payer, {})
        prior = known.get(payee)
        if prior is None:
            if len(known) < MAX_REMEMBERED_PAYEES:
                known[payee] = Payee(ts_s, amount)
            return False
        gap_days = (ts_s - prior.last_s) / DAY_S
        similar = abs(amount - prior.last_amount) * 100 <= (
            self.p.amount_tolerance_pct * prior.last_amount
        )
        prior.last_s, prior.last_amount = ts_s, amount
        if not (similar and self.p.cycle_min_days <= gap_days <= self.p.cycle_max_days):
            return False
        payees = self.recurring.setdefault(payer, set())
        if len(payees) < self.p.min_recurring_payees:
            payees.add(payee)
            if len(payees) >= self.p.min_recurring_payees:
                self.payers.add(payer)
        return True

    def first_paid(self, payer: str, payee: str) -> int | None:
        prior = self.payees.get(payer, {}).get(payee)
        return prior.first_s if prior else None


class Context:
    """What every scenario may ask about an account or about the event being observed."""

    def __init__(self, params: AmlParams, ratings: Mapping[str, RiskRating]) -> None:
        self.params = params
        self.ratings = ratings
        self.merchant_payments: dict[str, int] = {}
        self.payroll = Payroll(params.payroll)
        self.payroll_flow = False  # the current event is a recognised payroll flow

    def observe(self, e: Event) -> None:
        if e.type == "payment" and e.mcc and e.payee:
            self.merchant_payments[e.payee] = self.merchant_payments.get(e.payee, 0) + 1
        self.payroll_flow = self.payroll.observe(e)

    def rating(self, account: str | None) -> RiskRating:
        return self.ratings.get(account or "", RiskRating.LOW)

    def is_merchant(self, account: str) -> bool:
        return self.merchant_payments.get(account, 0) >= self.params.merchant_min_payments


class Structuring:
    """Several parts just under the reporting threshold that together reach it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.p = ctx.params.structuring
        self.parts: dict[str, deque[tuple[int, int, str]]] = {}

    def observe(self, e: Event) -> list[Alert]:
        if e.type not in MOVES or not e.payer:
            return []
        rating = self.ctx.rating(e.payer)
        threshold = scaled(self.p.threshold_cny_minor, rating)
        low = threshold * self.p.band_low_pct // 100
        if not low <= e.amount_cny_minor < threshold:
            return []
        parts = self.parts.setdefault(e.payer, deque())
        parts.append((e.ts_s, e.amount_cny_minor, e.id))
        horizon = e.ts_s - self.p.window_h * HOUR_S
        while parts and parts[0][0] < horizon:
            parts.popleft()
        total = sum(p[1] for p in parts)
        if len(parts) < scaled_count(self.p.min_count, rating) or total < threshold:
            return []
        ids = [p[2] for p in parts]
        parts.clear()
        score = 0.55 + 0.1 * min(len(ids) - 2, 4) + (0.1 if rating != RiskRating.LOW else 0)
        summary = (
            f"{e.payer}: {len(ids)} {e.type}s of {cny(low)}..{cny(threshold)} within "
            f"{self.p.window_h} h, {cny(total)} in all, each under the {cny(threshold)} threshold"
        )
        return [make_alert(Scenario.STRUCTURING, [e.payer], ids, score, summary, e.ts_s, total)]


class FanIn:
    """Many distinct senders into one non-merchant account within a window."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.p = ctx.params.fan_in
        self.flows: dict[str, deque[tuple[int, str, int, str]]] = {}

    def observe(self, e: Event) -> list[Alert]:
        if e.type != "transfer" or not e.payee or not e.payer or e.payer == e.payee:
            return []
        flows = self.flows.setdefault(e.payee, deque())
        flows.append((e.ts_s, e.payer, e.amount_cny_minor, e.id))
        horizon = e.ts_s - self.p.window_h * HOUR_S
        while flows and flows[0][0] < horizon:
            flows.popleft()
        rating = self.ctx.rating(e.payee)
        if len(flows) < scaled_count(self.p.min_counterparties, rating):
            return []
        senders = {f[1] for f in flows}
        total = sum(f[2] for f in flows)
        if len(senders) < scaled_count(self.p.min_counterparties, rating):
            return []
        if total < scaled(self.p.min_total_cny_minor, rating) or self.ctx.is_merchant(e.payee):
            return []
        ids = [f[3] for f in flows]
        flows.clear()
        score = 0.5 + min(0.4, len(senders) / 50) + (0.1 if rating != RiskRating.LOW else 0)
        summary = (
            f"{e.payee}: {len(senders)} distinct senders, {len(ids)} transfers, {cny(total)} "
            f"in {self.p.window_h} h"
        )
        accounts = [e.payee, *sorted(senders)]
        return [make_alert(Scenario.FAN_IN, accounts, ids, score, summary, e.ts_s, total)]


class _Fan:
    """One payer's transfers in the fan-out window, with running counts (O(1) per event)."""

    __slots__ = ("batched", "flows", "last_s", "receivers", "recurring", "total")

    def __init__(self) -> None:
        # (ts, payee, amount, event id, batched, to a recurring payee)
        self.flows: deque[tuple[int, str, int, str, bool, bool]] = deque()
        self.receivers: dict[str, int] = {}  # payee -> transfers in the window
        self.total = 0
        self.batched = 0
        self.recurring = 0
        self.last_s: int | None = None

    def push(self, flow: tuple[int, str, int, str, bool, bool]) -> None:
        self.flows.append(flow)
        self.receivers[flow[1]] = self.receivers.get(flow[1], 0) + 1
        self.total += flow[2]
        self.batched += flow[4]
        self.recurring += flow[5]

    def prune(self, horizon: int) -> None:
        while self.flows and self.flows[0][0] < horizon:
            _, payee, amount, _, batched, recurring = self.flows.popleft()
            left = self.receivers[payee] - 1
            if left:
                self.receivers[payee] = left
            else:
                del self.receivers[payee]
            self.total -= amount
            self.batched -= batched
            self.recurring -= recurring

    def clear(self) -> None:
        self.flows.clear()
        self.receivers.clear()
        self.total = self.batched = self.recurring = 0


class FanOut:
    """One account paying many distinct receivers in a window, unless it looks like payroll.

    Payroll by behaviour: a recognised payroll payer's pay runs never enter the fan; and
    (for low-risk payers) a fan that is mostly one machine batch (each transfer within
    `batch_gap_s` of the one before) or mostly recurring payees is a payout run.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.p = ctx.params.fan_out
        self.fans: dict[str, _Fan] = {}

    def observe(self, e: Event) -> list[Alert]:
        if e.type != "transfer" or not e.payee or not e.payer or e.payer == e.payee:
            return []
        if self.ctx.payroll_flow:
            return []
        fan = self.fans.get(e.payer)
        if fan is None:
            fan = self.fans[e.payer] = _Fan()
        gap_ok = self.p.batch_gap_s > 0 and fan.last_s is not None
        batched = gap_ok and e.ts_s - (fan.last_s or 0) <= self.p.batch_gap_s
        fan.last_s = e.ts_s
        first = self.ctx.payroll.first_paid(e.payer, e.payee)
        recurring = first is not None and first <= e.ts_s - self.p.recurring_days * DAY_S
        fan.push((e.ts_s, e.payee, e.amount_cny_minor, e.id, batched, recurring))
        fan.prune(e.ts_s - self.p.window_h * HOUR_S)
        rating = self.ctx.rating(e.payer)
        need = scaled_count(self.p.min_counterparties, rating)
        n = len(fan.flows)
        if n < need or len(fan.receivers) < need:
            return []
        if fan.total < scaled(self.p.min_total_cny_minor, rating):
            return []
        if rating == RiskRating.LOW and (
            fan.batched * 100 >= self.p.batch_share_pct * n
            or fan.recurring * 100 >= self.p.recurring_share_pct * n
        ):
            return []
        ids = [f[3] for f in fan.flows]
        receivers = sorted(fan.receivers)
        total = fan.total
        fan.clear()
        score = 0.5 + min(0.4, len(receivers) / 50) + (0.1 if rating != RiskRating.LOW else 0)
        summary = (
            f"{e.payer}: {len(receivers)} distinct receivers, {len(ids)} transfers, "
            f"{cny(total)} in {self.p.window_h} h"
        )
        accounts = [e.payer, *receivers]
        return [make_alert(Scenario.FAN_OUT, accounts, ids, score, summary, e.ts_s, total)]


class PassThrough:
    """Money received from others that leaves again almost whole within hours."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.p = ctx.params.pass_through
        self.ins: dict[str, deque[tuple[int, int, str]]] = {}
        self.outs: dict[str, deque[tuple[int, int, str]]] = {}

    def observe(self, e: Event) -> list[Alert]:
        if e.type == "transfer" and e.payee and e.payer != e.payee:
            self._push(self.ins, e.payee, e)
        if e.type not in ("transfer", "withdrawal") or not e.payer:
            return []
        ins = self.ins.get(e.payer)
        if not ins:
            return []
        outs = self._push(self.outs, e.payer, e)
        self._prune(ins, e.ts_s)
        first_in = ins[0][0] if ins else e.ts_s
        while outs and outs[0][0] < first_in:
            outs.popleft()
        rating = self.ctx.rating(e.payer)
        total_in = sum(x[1] for x in ins)
        total_out = sum(x[1] for x in outs)
        if total_in < scaled(self.p.min_in_cny_minor, rating):
            return []
        if total_out * 100 < self.p.min_out_pct * total_in:
            return []
        ids = [x[2] for x in ins] + [x[2] for x in outs]
        ins.clear()
        outs.clear()
        hours = max(1, (e.ts_s - first_in) // HOUR_S)
        score = 0.6 + 0.3 * min(1.0, total_out / max(1, total_in)) - min(0.2, hours / 240)
        summary = f"{e.payer}: received {cny(total_in)} and sent on {cny(total_out)} in {hours} h"
        return [make_alert(Scenario.PASS_THROUGH, [e.payer], ids, score, summary, e.ts_s, total_in)]

    def _push(
        self, book: dict[str, deque[tuple[int, int, str]]], account: str, e: Event
    ) -> deque[tuple[int, int, str]]:
        q = book.setdefault(account, deque())
        q.append((e.ts_s, e.amount_cny_minor, e.id))
        self._prune(q, e.ts_s)
        return q

    def _prune(self, q: deque[tuple[int, int, str]], now_s: int) -> None:
        horizon = now_s - self.p.window_h * HOUR_S
        while q and q[0][0] < horizon:
            q.popleft()


class Dormant:
    """A quiet account (little volume for weeks) that suddenly moves a large amount.

    A recognised payroll flow (a salary run every two weeks or a month leaves longer gaps
    than the quiet period) counts as activity of both accounts, never as a burst.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.p = ctx.params.dormant_reactivation
        # per account: burst window entries, quiet window entries, their sums, first seen
        self.burst: dict[str, deque[tuple[int, int, str]]] = {}
        self.quiet: dict[str, deque[tuple[int, int]]] = {}
        self.sums: dict[str, list[int]] = {}  # burst, quiet, payroll activity
        self.payroll: dict[str, deque[tuple[int, int]]] = {}  # recognised payroll flows
        self.first_seen: dict[str, int] = {}
        self.cooldown: dict[str, int] = {}

    def observe(self, e: Event) -> list[Alert]:
        alerts: list[Alert] = []
        # payer then payee, in that order (a set's order would follow PYTHONHASHSEED)
        accounts = (e.payer,) if e.payer == e.payee else (e.payer, e.payee)
        for account in accounts:
            if account is None or (e.type == "payment" and account == e.payee):
                continue  # merchants' takings are not a customer's reactivation
            alert = self._observe_account(account, e)
            if alert:
                alerts.append(alert)
        return alerts

    def _observe_account(self, account: str, e: Event) -> Alert | None:
        first = self.first_seen.setdefault(account, e.ts_s)
        burst = self.burst.setdefault(account, deque())
        quiet = self.quiet.setdefault(account, deque())
        sums = self.sums.setdefault(account, [0, 0, 0])
        if self.ctx.payroll_flow:
            # Activity that keeps the account from looking dormant, never part of a burst.
            self.payroll.setdefault(account, deque()).append((e.ts_s, e.amount_cny_minor))
            sums[2] += e.amount_cny_minor
            return None
        burst.append((e.ts_s, e.amount_cny_minor, e.id))
        sums[0] += e.amount_cny_minor
        burst_from = e.ts_s - self.p.burst_h * HOUR_S
        while burst and burst[0][0] < burst_from:
            ts, amount, _ = burst.popleft()
            sums[0] -= amount
            quiet.append((ts, amount))
            sums[1] += amount
        quiet_from = burst_from - self.p.quiet_days * DAY_S
        while quiet and quiet[0][0] < quiet_from:
            sums[1] -= quiet.popleft()[1]
        payroll = self.payroll.get(account)
        while payroll and payroll[0][0] < quiet_from:
            sums[2] -= payroll.popleft()[1]
        quiet_total = sums[1] + sums[2]
        rating = self.ctx.rating(account)
        if sums[0] < scaled(self.p.burst_min_cny_minor, rating) or first > quiet_from:
            return None
        if (
            quiet_total * 100 > self.p.quiet_share_pct * sums[0]
            or self.cooldown.get(account, 0) > e.ts_s
        ):
            return None
        self.cooldown[account] = e.ts_s + self.p.burst_h * HOUR_S
        ids = [b[2] for b in burst]
        score = 0.6 + 0.3 * (1 - quiet_total / max(1, sums[0])) + (0.1 if rating != "low" else 0)
        summary = (
            f"{account}: {cny(sums[0])} in {self.p.burst_h} h after {self.p.quiet_days} days "
            f"with {cny(quiet_total)}"
        )
        return make_alert(
            Scenario.DORMANT_REACTIVATION, [account], ids, score, summary, e.ts_s, sums[0]
        )


class HighRiskGeo:
    """Flows with FATF high-risk ("call for action") or monitored jurisdictions."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.p = ctx.params.high_risk_geo
        self.lists = fatf_lists()
        self.open: dict[tuple[str, str], tuple[int, int, list[str]]] = {}

    def observe(self, e: Event) -> list[Alert]:
        if e.payer_country == e.payee_country or e.type == "refund":
            return []
        alerts = []
        for account, country in ((e.payer, e.payee_country), (e.payee, e.payer_country)):
            if account and country and self._risky(country):
                alert = self._observe(account, country, e)
                if alert:
                    alerts.append(alert)
        return alerts

    def _risky(self, country: str) -> bool:
        return country in self.lists.call_for_action or country in self.lists.increased_monitoring

    def _observe(self, account: str, country: str, e: Event) -> Alert | None:
        key = (account, country)
        start, total, ids = self.open.get(key, (e.ts_s, 0, []))
        if e.ts_s - start > self.p.window_h * HOUR_S:
            start, total, ids = e.ts_s, 0, []
        if ids and ids[-1] == "":  # already alerted in this window
            return None
        total += e.amount_cny_minor
        ids = [*ids, e.id][-50:]
        black = country in self.lists.call_for_action
        limit = scaled(self.p.monitored_total_cny_minor, self.ctx.rating(account))
        if not black and total < limit:
            self.open[key] = (start, total, ids)
            return None
        self.open[key] = (start, total, [*ids, ""])
        kind = "FATF call for action" if black else "FATF increased monitoring"
        score = 0.8 if black else 0.6
        summary = f"{account}: {cny(total)} with {country} ({kind}, list of {self.lists.as_of})"
        return make_alert(Scenario.HIGH_RISK_GEO, [account], ids, score, summary, e.ts_s, total)


class LargeValue:
    """A single very large transaction: an alert for an analyst, i.e. a suspicion.

    Not to be confused with large-value *reporting* (LVTR, reports.py): every transaction at or
    above the reporting threshold is reported to the regulator whatever its purpose, salaries
    included. This alert is for amounts far above that, and not for a recognised payroll
    payer's funding top-ups and salaries.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.p = ctx.params.large_value

    def observe(self, e: Event) -> list[Alert]:
        if e.type == "refund" or e.amount_cny_minor < self.p.alert_cny_minor:
            return []
        if self.ctx.payroll_flow:
            return []  # a payroll payer funding or paying salaries: reported, not alerted
        # An event with neither payer nor payee still alerts, on a placeholder subject of its own
        accounts = [a for a in (e.payer, e.payee) if a] or [UNKNOWN_ACCOUNT + e.id]
        summary = f"{e.type} of {cny(e.amount_cny_minor)} ({e.amount_minor} {e.currency} minor)"
        return [
            make_alert(
                Scenario.LARGE_VALUE, accounts, [e.id], 0.5, summary, e.ts_s, e.amount_cny_minor
            )
        ]
