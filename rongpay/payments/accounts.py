"""The ledger accounts behind payments, and the transfer codes they move money with.

Test and live mode never share an account: every id starts with the mode. Accounts open on
first use, per currency (one currency per ledger account, DESIGN.md):

- `merchant_balance` per merchant: credits_pending = authorised, not yet captured;
  credits_posted - debits_posted = what the merchant has earned (captures minus refunds,
  fees and disputes). Not limited: refunds and disputes may take it below zero, as at Stripe.
- `customer_wallet` per customer: stored value; debits must not exceed credits.
- `clearing` per channel (card, bank): what the network owes us for captured payments.
- `fees`: the platform's fee revenue. `wallet_funding`: cash-in/out to wallets (top-ups,
  withdrawals), the counterpart of money entering or leaving stored value.
"""

from __future__ import annotations

from rongpay.ledger.types import A_DEBITS_LIMIT, Account

CHANNEL_CLEARING = {
    "card": "card",
    "card_present": "card",
    "bank_transfer": "bank",
    "wallet": None,  # wallet payments move between two ledger accounts directly
    "qr": None,
}

# transfer codes (kinds of movement), stored on each ledger transfer
AUTHORIZE = "pay_authorize"
CAPTURE = "pay_capture"
FEE = "pay_fee"
REFUND = "pay_refund"
REFUND_REVERSAL = "pay_refund_reversal"  # a refund the bank could not pay: back to the merchant
DISPUTE_HOLD = "pay_dispute_hold"
DISPUTE_FEE = "pay_dispute_fee"
TOPUP = "wallet_topup"
WITHDRAWAL = "wallet_withdrawal"
WALLET_TRANSFER = "wallet_transfer"


def _mode(livemode: bool) -> str:
    return "L" if livemode else "T"


def merchant(livemode: bool, merchant_id: str, currency: str) -> Account:
    return Account(
        f"{_mode(livemode)}:mb:{merchant_id}:{currency}", currency, "merchant_balance",
        owner=merchant_id,
    )  # fmt: skip


def wallet(livemode: bool, customer_id: str, currency: str) -> Account:
    return Account(
        f"{_mode(livemode)}:cw:{customer_id}:{currency}", currency, "customer_wallet",
        flags=A_DEBITS_LIMIT, owner=customer_id,
    )  # fmt: skip


def clearing(livemode: bool, channel: str, currency: str) -> Account:
    return Account(f"{_mode(livemode)}:clearing:{channel}:{currency}", currency, "clearing")


def fees(livemode: bool, currency: str) -> Account:
    return Account(f"{_mode(livemode)}:fees:{currency}", currency, "fees")


def wallet_funding(livemode: bool, currency: str) -> Account:
    return Account(f"{_mode(livemode)}:funding:wallet:{currency}", currency, "suspense")
