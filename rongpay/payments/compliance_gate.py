"""Compliance on the payment path: sanctions screening of cross-border payers, live AML
monitoring of every completed payment, and cases for what an analyst must see.

- Screening: a payment whose payer and merchant are in different countries (or whose payer
  country is unknown) screens the payer's name against the sanctions list
  ($RONGPAY_SANCTIONS_LIST, an OpenSanctions targets.simple.csv; the shipped sample list by
  default). A match HOLDS the payment before any money moves: the intent waits in
  `processing` with `risk.screening`, a case is opened, and an operator releases it
  (`POST /v1/payment_intents/{id}/release`) or rejects it.
- Risk `review` decisions and AML alerts become cases (`rongpay cases list`), through
  `compliance.cases.import_alerts` (one open case per subject; alerts join it).
- AML monitoring (`compliance.aml_engine.Monitor`) sees every completed payment in this
  process, in order, in a background thread, so the payment's answer never waits for it.
  Its state is in memory: a restart starts the scenarios' windows afresh (a known limit).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from rongpay.compliance import cases
from rongpay.compliance.aml_engine import Monitor
from rongpay.compliance.events import parse_event
from rongpay.compliance.reference import cny_factors
from rongpay.compliance.screening import Screener
from rongpay.compliance.screening_service import (
    SAMPLE_LIST,
    ScreeningDecision,
    load_screener,
    screen_cross_border,
)
from rongpay.payments.intents import Intent
from rongpay.payments.risk_gate import CHANNELS  # the event channel of each payment method

log = logging.getLogger("rongpay.payments")

LIST_ENV = "RONGPAY_SANCTIONS_LIST"
QUEUE_LIMIT = 10_000  # completed payments waiting for the AML monitor; beyond it, dropped (logged)
SYSTEM = "system:gateway"


class ComplianceGate:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._screener: Screener | None = None
        self._lock = threading.Lock()
        self.monitor = Monitor()
        self._queue: queue.Queue[tuple[Intent, str, str | None, str]] = queue.Queue(QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._watch, name="aml-monitor", daemon=True)
        self._thread.start()

    def screener(self) -> Screener:
        if self._screener is None:
            with self._lock:
                if self._screener is None:
                    self._screener = load_screener(os.environ.get(LIST_ENV) or SAMPLE_LIST)
        return self._screener

    def screen(self, name: str | None, payer_country: str | None,
               merchant_country: str) -> dict[str, Any] | None:  # fmt: skip
        """None when clear (or no name to screen); else the hold with its matches."""
        if not name:
            return None
        result = screen_cross_border(
            self.screener(), payer_country=payer_country, payee_country=merchant_country,
            counterparty_name=name,
        )  # fmt: skip
        if result.decision != ScreeningDecision.HOLD:
            return None
        return {"decision": "hold", "name": name,
                "matches": [m.to_json() for m in result.matches if m.is_match][:5]}  # fmt: skip

    def case_write(self, alert_id: str, scenario: str, subject: str, intent: Intent,
                   score: float, summary: str) -> Callable[[Connection], None]:  # fmt: skip
        """The write that opens (or adds to) SUBJECT's case for this payment, to run in the
        payment's own transaction: the payment and its case commit together or not at all,
        and the answer never waits for a separate write."""
        alert = {"alert_id": alert_id, "scenario": scenario, "accounts": [subject],
                 "transactions": [intent.id], "score": max(0.0, min(1.0, score)),
                 "summary": summary[:900]}  # fmt: skip

        def write(conn: Connection) -> None:
            cases.record_alerts(conn, [alert], by=SYSTEM)

        return write

    def completed(self, intent: Intent, payer: str, payer_country: str | None,
                  merchant_country: str) -> None:  # fmt: skip
        """A payment moved money: hand it to the AML monitor (never blocks the caller)."""
        try:
            self._queue.put_nowait((intent, payer, payer_country, merchant_country))
        except queue.Full:
            log.error("AML monitor queue full: payment %s not monitored", intent.id)

    def _watch(self) -> None:
        while True:
            intent, payer, payer_country, merchant_country = self._queue.get()
            try:
                self._observe(intent, payer, payer_country, merchant_country)
            except Exception:
                log.exception("AML monitor failed on %s", intent.id)

    def _observe(self, intent: Intent, payer: str, payer_country: str | None,
                 merchant_country: str) -> None:  # fmt: skip
        if intent.currency not in cny_factors():
            return  # AML thresholds are in CNY; such payments are not monitored (documented)
        ts = datetime.fromtimestamp(intent.updated or time.time(), UTC)
        event = parse_event({
            "id": intent.id, "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "type": "payment",
            "amount_minor": intent.amount_received or intent.amount,
            "currency": intent.currency, "payer": payer, "payee": intent.merchant_id,
            "payer_country": payer_country, "payee_country": merchant_country,
            "channel": CHANNELS.get(intent.method_type or "", "card"),
        }, 0)  # fmt: skip
        alerts = self.monitor.observe(event)
        if alerts:
            cases.import_alerts(self.engine, [a.to_json() for a in alerts], by=SYSTEM)
