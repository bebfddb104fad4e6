"""AML scenarios: each watches the event stream and keeps only the bounded state it needs.

Every scenario has `observe(event) -> list[Alert]`. State per account is pruned by the
scenario's window, so memory follows the number of active accounts, not of events.
Merchants (accounts paid by customers with an MCC) are never subjects of fan-in; payroll and
other bulk payouts (batches, recurring payees) are never subjects of fan-out.
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
    RiskRating,
    Scenario,
    scaled,
    scaled_count,
)
from rongpay.compliance.events import Event
from rongpay.compliance.reference import fatf_lists

MOVES = frozenset({"transfer", "topup", "withdrawal"})  # money moved by the customer
MAX_REMEMBERED_PAYEES = 5_000  # per payer, for recurring-payee detection


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


class Context:
    """What every scenario may ask about an account: its rating and whether it is a merchant."""

    def __init__(self, params: AmlParams, ratings: Mapping[str, RiskRating]) -> None:
        self.params = params
        self.ratings = ratings
        self.merchant_payments: dict[str, int] = {}

    def observe(self, e: Event) -> None:
        if e.type == "payment" and e.mcc and e.payee:
            self.merchant_payments[e.payee] = self.merchant_payments.get(e.payee, 0) + 1

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


class FanOut:
    """One account paying many distinct receivers in a window, unless it looks like payroll."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.p = ctx.params.fan_out
        self.flows: dict[str, deque[tuple[int, str, int, str]]] = {}
        self.first_paid: dict[str, dict[str, int]] = {}

    def observe(self, e: Event) -> list[Alert]:
        if e.type != "transfer" or not e.payee or not e.payer or e.payer == e.payee:
            return []
        known = self.first_paid.setdefault(e.payer, {})
        if len(known) < MAX_REMEMBERED_PAYEES:
            known.setdefault(e.payee, e.ts_s)
        flows = self.flows.setdefault(e.payer, deque())
        flows.append((e.ts_s, e.payee, e.amount_cny_minor, e.id))
        horizon = e.ts_s - self.p.window_h * HOUR_S
        while flows and flows[0][0] < horizon:
            flows.popleft()
        rating = self.ctx.rating(e.payer)
        need = scaled_count(self.p.min_counterparties, rating)
        if len(flows) < need:
            return []
        receivers = {f[1] for f in flows}
        total = sum(f[2] for f in flows)
        if len(receivers) < need or total < scaled(self.p.min_total_cny_minor, rating):
            return []
        if rating == RiskRating.LOW and self._looks_like_payroll(flows, known, e.ts_s):
            return []
        ids = [f[3] for f in flows]
        flows.clear()
        score = 0.5 + min(0.4, len(receivers) / 50) + (0.1 if rating != RiskRating.LOW else 0)
        summary = (
            f"{e.payer}: {len(receivers)} distinct receivers, {len(ids)} transfers, "
            f"{cny(total)} in {self.p.window_h} h"
        )
        accounts = [e.payer, *sorted(receivers)]
        return [make_alert(Scenario.FAN_OUT, accounts, ids, score, summary, e.ts_s, total)]

    def _looks_like_payroll(
        self, flows: deque[tuple[int, str, int, str]], known: dict[str, int], now_s: int
    ) -> bool:
        times = sorted(f[0] for f in flows)
        in_batch = max(
            sum(1 for t in times if start <= t <= start + self.p.batch_minutes * 60)
            for start in times
        )
        if in_batch * 100 >= self.p.batch_share_pct * len(times):
            return True
        earlier = now_s - self.p.recurring_days * DAY_S
        recurring = sum(1 for f in flows if known.get(f[1], now_s) <= earlier)
        return recurring * 100 >= self.p.recurring_share_pct * len(flows)


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
    """A quiet account (little volume for weeks) that suddenly moves a large amount."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.p = ctx.params.dormant_reactivation
        # per account: burst window entries, quiet window entries, their sums, first seen
        self.burst: dict[str, deque[tuple[int, int, str]]] = {}
        self.quiet: dict[str, deque[tuple[int, int]]] = {}
        self.sums: dict[str, list[int]] = {}
        self.first_seen: dict[str, int] = {}
        self.cooldown: dict[str, int] = {}

    def observe(self, e: Event) -> list[Alert]:
        alerts: list[Alert] = []
        for account in {e.payer, e.payee}:
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
        sums = self.sums.setdefault(account, [0, 0])
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
        rating = self.ctx.rating(account)
        if sums[0] < scaled(self.p.burst_min_cny_minor, rating) or first > quiet_from:
            return None
        if (
            sums[1] * 100 > self.p.quiet_share_pct * sums[0]
            or self.cooldown.get(account, 0) > e.ts_s
        ):
            return None
        self.cooldown[account] = e.ts_s + self.p.burst_h * HOUR_S
        ids = [b[2] for b in burst]
        score = 0.6 + 0.3 * (1 - sums[1] / max(1, sums[0])) + (0.1 if rating != "low" else 0)
        summary = (
            f"{account}: {cny(sums[0])} in {self.p.burst_h} h after {self.p.quiet_days} days "
            f"with {cny(sums[1])}"
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
    """A single very large transaction (the daily large-value report lists all large ones)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.p = ctx.params.large_value

    def observe(self, e: Event) -> list[Alert]:
        if e.type == "refund" or e.amount_cny_minor < self.p.alert_cny_minor:
            return []
        accounts = [a for a in (e.payer, e.payee) if a]
        summary = f"{e.type} of {cny(e.amount_cny_minor)} ({e.amount_minor} {e.currency} minor)"
        return [
            make_alert(
                Scenario.LARGE_VALUE, accounts, [e.id], 0.5, summary, e.ts_s, e.amount_cny_minor
            )
        ]
