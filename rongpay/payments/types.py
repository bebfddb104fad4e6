"""Payment records and their states (Stripe's PaymentIntents vocabulary)."""

from __future__ import annotations

import enum
import string
from dataclasses import dataclass
from typing import Any

from rongpay.security.entropy import random_bytes

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """A random public id such as `pi_3Nf...`: unguessable (LENGTH base-62 digits from the
    OS's CSPRNG, about 6 bits each), so ids leak nothing."""
    # one byte per digit, reduced mod 62: digits 0-7 come 5/4 as often as the others, which
    # still leaves about 142 bits of entropy in 24 digits (ids are unguessable, not secret keys)
    return prefix + "_" + random_bytes(length).translate(_DIGITS).decode("ascii")


_DIGITS = bytes(ord(_ALPHABET[b % 62]) for b in range(256))  # byte -> its base-62 digit


class IntentStatus(enum.StrEnum):
    requires_payment_method = "requires_payment_method"
    requires_confirmation = "requires_confirmation"
    requires_action = "requires_action"
    processing = "processing"
    requires_capture = "requires_capture"
    succeeded = "succeeded"
    canceled = "canceled"


OPEN_STATUSES = frozenset(
    {
        IntentStatus.requires_payment_method,
        IntentStatus.requires_confirmation,
        IntentStatus.requires_action,
    }
)


class CaptureMethod(enum.StrEnum):
    automatic = "automatic"
    manual = "manual"


class MethodType(enum.StrEnum):
    card = "card"
    card_present = "card_present"
    wallet = "wallet"
    bank_transfer = "bank_transfer"
    qr = "qr"


class ChargeStatus(enum.StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class DisputeStatus(enum.StrEnum):
    needs_response = "needs_response"
    under_review = "under_review"
    won = "won"
    lost = "lost"


@dataclass(frozen=True, slots=True)
class Merchant:
    id: str
    name: str
    country: str
    default_currency: str
    mcc: str
    city: str
    fee_schedule: dict[str, Any]
    status: str
    created: int


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: a merchant's key in one mode, or the operator (admin)."""

    merchant_id: str
    livemode: bool
    is_admin: bool = False

    @property
    def owner(self) -> str:
        return "admin" if self.is_admin else self.merchant_id
