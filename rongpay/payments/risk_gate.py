"""The risk engine on the payment path: one decision per confirmation attempt.

The engine (model shipped with rongpay, the database's active rule set and lists) is built
once per database on first use; its feature history lives in this process (risk/engine.py).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from rongpay.payments.intents import Intent
from rongpay.payments.types import Merchant
from rongpay.risk.engine import RiskEngine
from rongpay.risk.event import event_from_mapping
from rongpay.risk.lists import Lists
from rongpay.risk.model import Model
from rongpay.risk.service import published_rules
from rongpay.risk.store import export_entries

CHANNELS = {
    "card": "card", "card_present": "pos", "wallet": "wallet", "bank_transfer": "bank",
    "qr": "qr",
}  # fmt: skip


class RiskGate:
    def __init__(self, engine: Engine) -> None:
        self._db = engine
        self._engine: RiskEngine | None = None
        self._lock = threading.Lock()

    def warm(self) -> None:
        self._risk()

    def _risk(self) -> RiskEngine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    lists = Lists(export_entries(self._db))
                    self._engine = RiskEngine(Model.load(), published_rules(self._db), lists)
        return self._engine

    def assess(
        self, intent: Intent, merchant: Merchant, payer: str, payer_country: str | None,
        device_id: str | None, ip: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        """{"score", "decision", "reasons"} for this attempt."""
        method = intent.method_type or "card"
        channel = CHANNELS[method]
        pm = intent.payment_method or {}
        if (
            method == "card_present"
            and pm.get("card_present", {}).get("entry_mode") == "contactless"
        ):
            channel = "nfc"
        event = event_from_mapping({
            "id": f"{intent.id}:{intent.attempts + 1}",
            "ts": datetime.fromtimestamp(time.time(), UTC).isoformat().replace("+00:00", "Z"),
            "type": "payment", "amount_minor": intent.amount, "currency": intent.currency,
            "payer": payer, "payee": merchant.id, "payer_country": payer_country,
            "payee_country": merchant.country, "channel": channel, "device_id": device_id,
            "ip": ip, "mcc": merchant.mcc,
        })  # fmt: skip
        decision = self._risk().decide(event)
        return {
            "score": round(decision.score, 4),
            "decision": str(decision.decision),
            "reasons": list(decision.reasons),
        }
