"""Decisions: the four actions, the record the engine returns, and how verdicts combine."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Action(enum.StrEnum):
    """What the payment path does, mildest first."""

    ALLOW = "allow"
    REVIEW = "review"  # let it through, open a case for an analyst
    CHALLENGE = "challenge"  # ask the customer for a one-time code (requires_action)
    BLOCK = "block"  # decline with decline_code "fraudulent"


SEVERITY = {Action.ALLOW: 0, Action.REVIEW: 1, Action.CHALLENGE: 2, Action.BLOCK: 3}
BY_SEVERITY = {v: k for k, v in SEVERITY.items()}


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer for one event. `reasons` explain any decision other than allow."""

    id: str
    score: float
    decision: Action
    reasons: tuple[str, ...] = ()
    shadow: tuple[str, ...] = ()  # shadow rules that matched (they never change `decision`)

    def to_json(self, with_shadow: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "score": round(self.score, 6),
            "decision": self.decision.value,
            "reasons": list(self.reasons),
        }
        if with_shadow:
            out["shadow"] = list(self.shadow)
        return out


def most_severe(a: Action, b: Action) -> Action:
    return a if SEVERITY[a] >= SEVERITY[b] else b
