"""Pydantic models of the payment API's bodies, for /openapi.json (validation is done by
rongpay.payments.parse, which names the parameter at fault with a stable code)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class CardIn(_Open):
    number: str = Field(description="the card number (tokenised on entry, never stored)")
    exp_month: int
    exp_year: int
    cvc: str | None = None
    entry_mode: str | None = Field(None, description="card_present: chip, contactless, magstripe")


class WalletIn(_Open):
    customer: str | None = Field(None, description="a customer with a mandate for you")
    payment_code: str | None = Field(None, description="the 18-digit code the customer shows")


class BillingDetails(_Open):
    name: str | None = None
    email: str | None = None
    address: dict[str, str] | None = None


class PaymentMethodData(_Open):
    type: str = Field(description="card, card_present, wallet, bank_transfer or qr")
    card: CardIn | None = None
    card_present: CardIn | None = None
    wallet: WalletIn | None = None
    billing_details: BillingDetails | None = None


class PaymentIntentCreate(_Open):
    amount: int = Field(description="minor units (1099 = 10.99 USD)")
    currency: str = Field(description="ISO 4217, e.g. usd")
    capture_method: str | None = Field(None, description="automatic (default) or manual")
    confirm: bool | None = None
    customer: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    payment_method_data: PaymentMethodData | None = None
    return_url: str | None = None


class PaymentIntentConfirm(_Open):
    payment_method_data: PaymentMethodData | None = None
    return_url: str | None = None


class PaymentIntentCapture(_Open):
    amount_to_capture: int | None = None


class PaymentIntentCancel(_Open):
    cancellation_reason: str | None = None


class VerifyCode(_Open):
    code: str = Field(description="the one-time code the customer received")


class MerchantCreate(_Open):
    name: str
    country: str = Field(description="ISO 3166 alpha-2")
    default_currency: str
    city: str | None = None
    mcc: str | None = Field(None, description="merchant category code, 4 digits")
    fee_schedule: dict[str, Any] | None = None


class ApiKeyCreate(_Open):
    livemode: bool | None = None
    type: str | None = Field(None, description="secret (default) or publishable")


class PaymentIntent(_Open):
    id: str
    object: str
    amount: int
    amount_capturable: int
    amount_received: int
    amount_refunded: int
    capture_method: str
    currency: str
    status: str
    livemode: bool
    fee: int | None
    fee_quote: dict[str, int] | None
    last_payment_error: dict[str, Any] | None
    next_action: dict[str, Any] | None
    payment_method: dict[str, Any] | None
    created: int


class PaymentIntentList(_Open):
    object: str
    url: str
    data: list[PaymentIntent]
    has_more: bool


class Merchant(_Open):
    id: str
    object: str
    name: str
    country: str
    default_currency: str
    secret_key: str | None = Field(None, description="shown only when the merchant is created")


class ApiKey(_Open):
    object: str
    type: str
    livemode: bool
    key: str = Field(description="shown only now")


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    PaymentIntentCreate, PaymentIntentConfirm, PaymentIntentCapture, PaymentIntentCancel,
    VerifyCode, MerchantCreate, ApiKeyCreate,
)  # fmt: skip
