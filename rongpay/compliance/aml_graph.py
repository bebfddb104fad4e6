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
        """A chain v -> ... -> u of earlier transfers closing with u -> v, or None.

        Depth-first, backwards from u, with an explicit stack (a long ring with a large
        `max_length` must not exhaust Python's recursion limit). Returns the accounts after
        v in money order and the chain's event ids in order.
        """
        start, target = e.payer, e.payee
        assert start is not None and target is not None
        horizon = e.ts_s - self.p.window_h * HOUR_S
        budget = self.p.max_steps
        path: list[str] = [start]  # u, then the accounts that paid into the one before
        path_ids: list[str] = []  # path_ids[k]: the transfer path[k + 1] -> path[k]
        on_path = {start}
        frames = [(e.ts_s, e.amount_cny_minor, reversed(self.in_edges.get(start, ())))]
        while frames:
            before_s, amount, edges = frames[-1]
            low = amount * 100 // self.p.hop_max_pct
            high = amount * 100 // self.p.hop_min_pct
            pushed = False
            for ts, src, amt, eid in edges:
                budget -= 1
                if budget < 0:
                    return None
                if ts >= before_s or ts < horizon or not low <= amt <= high:
                    continue
                if src == target:
                    if len(path) + 1 >= 3:
                        return path[::-1], [eid, *path_ids[::-1]]
                    continue
                if src in on_path or len(path) + 1 >= self.p.max_length:
                    continue
                path.append(src)
                path_ids.append(eid)
                on_path.add(src)
                frames.append((ts, amt, reversed(self.in_edges.get(src, ()))))
                pushed = True
                break
            if not pushed:
                frames.pop()
                on_path.discard(path.pop())
                if path_ids:
                    path_ids.pop()
        return None
