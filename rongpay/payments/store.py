"""Payment tables: merchants and their keys, customers (wallet holders) and mandates, payment
intents with their charges (one per attempt), refunds, disputes, one-time payment codes,
wallet operations, and stored idempotent responses.

Objects carry `livemode`: test and live mode are separate worlds that share tables but never
rows. Every list is ordered by `seq`; public ids are random (`pi_...`). Structured fields
(`payment_method`, `last_payment_error`, `next_action`, `metadata`) are JSON text. Times are
integer epoch seconds (UTC), as Stripe's `created` is.
"""

from __future__ import annotations

import sqlalchemy as sa

from rongpay.store.metadata import metadata

_rowid = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _seq() -> sa.Column[int]:
    return sa.Column("seq", _rowid, primary_key=True, autoincrement=True)


merchants = sa.Table(
    "pay_merchants",
    metadata,
    _seq(),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("default_currency", sa.String(3), nullable=False),
    sa.Column("mcc", sa.String(4), nullable=False),
    sa.Column("city", sa.String(60), nullable=False),
    sa.Column("fee_schedule", sa.Text, nullable=False),  # JSON, see fees.py
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)

api_keys = sa.Table(
    "pay_api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("merchant_id", sa.String(40), nullable=False, index=True),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),  # secret | publishable
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),  # SHA-256 hex
    sa.Column("redacted", sa.String(40), nullable=False),  # sk_test_...abcd
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.BigInteger),
)

customers = sa.Table(
    "pay_customers",
    metadata,
    _seq(),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("email", sa.String(320)),
    sa.Column("country", sa.String(2)),
    sa.Column("kyc_tier", sa.String(16), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)

mandates = sa.Table(
    "pay_mandates",
    metadata,
    _seq(),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("customer_id", sa.String(40), nullable=False),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | revoked
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("customer_id", "merchant_id", name="uq_pay_mandates_pair"),
)

payment_codes = sa.Table(
    "pay_payment_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("expires", sa.BigInteger, nullable=False),
    sa.Column("used_by", sa.String(40)),  # the payment intent that consumed it
)

intents = sa.Table(
    "pay_intents",
    metadata,
    _seq(),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("capture_method", sa.String(16), nullable=False),
    sa.Column("amount_capturable", sa.BigInteger, nullable=False),
    sa.Column("amount_received", sa.BigInteger, nullable=False),
    sa.Column("amount_refunded", sa.BigInteger, nullable=False),
    sa.Column("fee", sa.BigInteger),
    sa.Column("fee_quote", sa.Text),  # JSON: the fee per payment method, before confirmation
    sa.Column("payment_method", sa.Text),  # JSON: type and its non-secret details
    sa.Column("customer_id", sa.String(40)),
    sa.Column("description", sa.String(1000)),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("last_payment_error", sa.Text),
    sa.Column("next_action", sa.Text),
    sa.Column("latest_charge", sa.String(40)),
    sa.Column("cancellation_reason", sa.String(40)),
    sa.Column("risk", sa.Text),  # JSON: score, decision, reasons of the last attempt
    sa.Column("challenge", sa.Text),  # JSON, never rendered: one-time code hash, expiry, tries
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
    sa.Column("expires", sa.BigInteger),  # uncaptured authorisation lapses at this time
    sa.Column("return_url", sa.String(2048)),
    sa.Index("ix_pay_intents_merchant", "merchant_id", "livemode", "seq"),
    sa.Index("ix_pay_intents_expiry", "status", "expires"),
)

charges = sa.Table(
    "pay_charges",
    metadata,
    _seq(),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("intent_id", sa.String(40), nullable=False, index=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | succeeded | failed
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("amount_captured", sa.BigInteger, nullable=False),
    sa.Column("amount_refunded", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("captured", sa.Boolean, nullable=False),
    sa.Column("disputed", sa.Boolean, nullable=False),
    sa.Column("payment_method", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),  # JSON: network status, decline, risk
    sa.Column("network", sa.Text),  # JSON: card rrn/stan/auth code, bank order id
    sa.Column("network_ref", sa.String(64), index=True),  # card RRN or bank order: lookups
    sa.Column("failure_code", sa.String(40)),
    sa.Column("created", sa.BigInteger, nullable=False),
)

refunds = sa.Table(
    "pay_refunds",
    metadata,
    _seq(),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("intent_id", sa.String(40), nullable=False, index=True),
    sa.Column("charge_id", sa.String(40), nullable=False),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | succeeded | failed
    sa.Column("reason", sa.String(40)),
    sa.Column("failure_reason", sa.String(40)),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
)

disputes = sa.Table(
    "pay_disputes",
    metadata,
    _seq(),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("charge_id", sa.String(40), nullable=False, unique=True),
    sa.Column("intent_id", sa.String(40), nullable=False),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("evidence_due_by", sa.BigInteger, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
)

wallet_operations = sa.Table(
    "pay_wallet_operations",
    metadata,
    _seq(),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("type", sa.String(16), nullable=False),  # topup | transfer | withdrawal
    sa.Column("customer_id", sa.String(40), nullable=False, index=True),
    sa.Column("counterparty", sa.String(40)),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("failure_code", sa.String(40)),
    sa.Column("created", sa.BigInteger, nullable=False),
)

spend = sa.Table(
    "pay_spend",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),  # customer:mode:period (D2026-11-25, Y2026)
    sa.Column("total_cny_minor", sa.BigInteger, nullable=False),
)

idempotency = sa.Table(
    "pay_idempotency",
    metadata,
    sa.Column("owner", sa.String(40), primary_key=True),  # merchant id, or "admin"
    sa.Column("livemode", sa.Boolean, primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer),  # None while the first request is still running
    sa.Column("body", sa.LargeBinary),
    sa.Column("created", sa.BigInteger, nullable=False),
)

# One row per card authorisation or purchase, written in the commit that precedes the send:
# what was sent (identity and amounts, never card data) and the idempotency key it holds, so
# an attempt a crash cut short can be reversed at the issuer and answered (card_recovery.py).
card_requests = sa.Table(
    "pay_card_requests",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # the attempt's charge id
    sa.Column("intent_id", sa.String(40), nullable=False),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("request", sa.Text, nullable=False),  # JSON: channels.card.request_record
    sa.Column("idem_owner", sa.String(40)),  # the key the confirmation reserved, if any
    sa.Column("idem_key", sa.String(255)),
    sa.Column("idem_fingerprint", sa.String(64)),
    sa.Column("recovery", sa.String(16)),  # None, then reversing | reversed | refused
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("recovered", sa.BigInteger),
)

# Reversal advices (0420) the issuer has not acknowledged yet; the card number is in the vault
# (card_token), never here.
card_advices = sa.Table(
    "pay_card_advices",
    metadata,
    _seq(),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("card_token", sa.String(40), nullable=False),
    sa.Column("message", sa.Text, nullable=False),  # JSON: the 0420 without fields 2, 7, 11
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # queued | acknowledged | abandoned
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
    sa.Index("ix_pay_card_advices_status", "status", "seq"),
)

# One row per refund of a bank transfer: where its instruction to the bank stands. `sending`:
# written before the bank is asked (nothing booked yet); `unconfirmed`: asked, no answer (the
# bank may be paying it: booked, the upkeep asks again with the same reference); `sent`: the
# bank took it (booked, waiting for its callback); then `succeeded` or `failed` (reversed).
bank_refunds = sa.Table(
    "pay_bank_refunds",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # the refund's id, our reference
    sa.Column("intent_id", sa.String(40), nullable=False),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),  # the bank's order that was paid
    sa.Column("bank_refund_id", sa.String(80)),  # the bank's id for the refund, once known
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("booked", sa.Boolean, nullable=False),  # the ledger transfer is made
    sa.Column("tries", sa.Integer, nullable=False),  # instructions sent (1 + the upkeep's)
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
    sa.Index("ix_pay_bank_refunds_state", "state", "updated"),
)
