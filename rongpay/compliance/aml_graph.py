"""Cycle detection: money that returns to where it started through several accounts.

On each transfer u -> v we search backwards from u for a time-ordered chain of earlier
transfers v -> x1 -> ... -> u, each carrying a similar amount (between `hop_min_pct` and
`hop_max_pct` of the next hop's amount, allowing for fees), all within the window. The search
is bounded: only the most recent `max_in_edges` transfers into each account, at most
`max_steps` edges examined per closing transfer.
"""

from __future__ import annotations

from collections import deque

from rongpay.compliance.aml_params import HOUR_S, Scenario
from rongpay.compliance.aml_scenarios import Alert, Context, cny, make_alert
from rongpay.compliance.events import Event

Edge = tuple[int, str, int, str]  # (ts_s, source account, amount CNY fen, event id)


class Cycle:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.p = ctx.params.cycle
        self.in_edges: dict[str, deque[Edge]] = {}
        self.alerted: set[str] = set()

    def observe(self, e: Event) -> list[Alert]:
        if e.type != "transfer" or not e.payer or not e.payee or e.payer == e.payee:
            return []
        if e.amount_cny_minor < self.p.min_cny_minor:
            return []
        found = self._search(e)
        edges = self.in_edges.setdefault(e.payee, deque(maxlen=self.p.max_in_edges))
        edges.append((e.ts_s, e.payer, e.amount_cny_minor, e.id))
        if not found:
            return []
        chain_accounts, chain_ids = found
        if any(i in self.alerted for i in chain_ids):
            return []
        self.alerted.update(chain_ids)
        accounts = [e.payee, *chain_accounts]
        ids = [*chain_ids, e.id]
        summary = (
            f"{len(accounts)} accounts, {cny(e.amount_cny_minor)} back to {e.payee}: "
            + " -> ".join([*accounts, e.payee])
        )
        score = 0.7 + 0.05 * min(4, len(accounts) - 2)
        return [
            make_alert(Scenario.CYCLE, accounts, ids, score, summary, e.ts_s, e.amount_cny_minor)
        ]

    def _search(self, e: Event) -> tuple[list[str], list[str]] | None:
        """A chain v -> ... -> u of earlier transfers closing with u -> v, or None."""
        start, target = e.payer, e.payee
        horizon = e.ts_s - self.p.window_h * HOUR_S
        assert start is not None and target is not None
        budget = [self.p.max_steps]
        path = self._dfs(start, target, e.ts_s, e.amount_cny_minor, horizon, [start], budget)
        return path  # accounts after v in money order, and the chain's event ids in order

    def _dfs(
        self,
        node: str,
        target: str,
        before_s: int,
        amount: int,
        horizon: int,
        seen: list[str],
        budget: list[int],
    ) -> tuple[list[str], list[str]] | None:
        """Backwards from NODE along in-edges earlier than BEFORE_S, to TARGET."""
        low = amount * 100 // self.p.hop_max_pct
        high = amount * 100 // self.p.hop_min_pct
        for ts, src, amt, eid in reversed(self.in_edges.get(node, ())):
            budget[0] -= 1
            if budget[0] < 0:
                return None
            if ts >= before_s or ts < horizon or not low <= amt <= high:
                continue
            if src == target:
                if len(seen) + 1 >= 3:
                    return [node], [eid]
                continue
            if src in seen or len(seen) + 1 >= self.p.max_length:
                continue
            sub = self._dfs(src, target, ts, amt, horizon, [*seen, src], budget)
            if sub is not None:
                return [*sub[0], node], [*sub[1], eid]
        return None
