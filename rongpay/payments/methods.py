"""`payment_method_data`: what the payer pays with, checked and split into what the intent
may keep (type, brand, last4, vault token, customer) and what it must not (the card number,
the CVC), which lives only as long as the request.

Types: `card` (e-commerce), `card_present` (NFC/POS reads: chip, contactless, magstripe),
`wallet` (stored value: the customer with a mandate for this merchant, or a one-time
`payment_code` the customer shows at the till), `bank_transfer` (redirect to the bank), `qr`
(the merchant shows an EMVCo QR that the customer's wallet app pays).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rongpay.payments import parse
from rongpay.payments.errors import invalid
from rongpay.security.cards import CardDetails, CardError, parse_card
from rongpay.security.vault import Vault, VaultRecord

TYPES = ("card", "card_present", "wallet", "bank_transfer", "qr")
ENTRY_MODES = ("chip", "contactless", "magstripe")
PARAM = "payment_method_data"

# Stripe's international test cards carry the ISO 3166 numeric country in digits 7-9.
_TEST_BIN_COUNTRIES = {
    "036": "AU", "076": "BR", "124": "CA", "156": "CN", "250": "FR", "276": "DE", "344": "HK",
    "392": "JP", "484": "MX", "702": "SG", "756": "CH", "826": "GB", "840": "US",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class MethodInput:
    public: dict[str, Any]  # kept on the intent and shown: never a card number or CVC
    card: CardDetails | None = None
    record: VaultRecord | None = None
    payment_code: str | None = None

    @property
    def type(self) -> str:
        return str(self.public["type"])


def issuer_country(pan: str) -> str:
    if pan.startswith("400000") and pan[6:9] in _TEST_BIN_COUNTRIES:
        return _TEST_BIN_COUNTRIES[pan[6:9]]
    return "US"


def _billing(raw: object) -> dict[str, Any] | None:
    if raw is None:
        return None
    param = f"{PARAM}[billing_details]"
    body = parse.body(raw, frozenset({"name", "email", "address"}))
    address = body.get("address")
    country = None
    if address is not None:
        addr = parse.body(address, frozenset({"country", "line1", "city", "postal_code"}))
        country = parse.country(addr.get("country"), f"{param}[address][country]")
    return {
        "name": parse.text(body.get("name"), f"{param}[name]", limit=200),
        "email": parse.text(body.get("email"), f"{param}[email]", limit=320),
        "country": country,
    }


def _card(raw: Mapping[str, Any], kind: str, vault: Vault) -> MethodInput:
    fields = {"number", "exp_month", "exp_year", "cvc"} | (
        {"entry_mode"} if kind == "card_present" else set()
    )
    data = parse.body(raw.get(kind), frozenset(fields)) if raw.get(kind) is not None else None
    if data is None:
        raise invalid(
            "parameter_missing",
            f"`{PARAM}[{kind}]` is required for type {kind}.",
            f"{PARAM}[{kind}]",
        )
    try:
        card = parse_card({k: v for k, v in data.items() if k != "entry_mode"})
    except CardError as exc:
        raise invalid(
            exc.code, exc.message, f"{PARAM}[{exc.param.replace('card[', kind + '][')}"
        ) from None
    entry = "ecommerce"
    if kind == "card_present":
        entry = parse.choice(
            data.get("entry_mode"), f"{PARAM}[card_present][entry_mode]", ENTRY_MODES, "contactless"
        )
    record = vault.seal(card)
    public = {
        "type": kind,
        kind: {
            "brand": record.brand, "last4": record.last4, "exp_month": card.exp_month,
            "exp_year": card.exp_year, "fingerprint": record.fingerprint,
            "country": issuer_country(card.pan), "token": record.token, "entry_mode": entry,
        },
    }  # fmt: skip
    return MethodInput(public, card=card, record=record)


def _wallet(raw: Mapping[str, Any]) -> MethodInput:
    data = parse.body(raw.get("wallet") or {}, frozenset({"customer", "payment_code"}))
    customer, code = data.get("customer"), data.get("payment_code")
    if (customer is None) == (code is None):
        raise invalid(
            "parameter_invalid",
            f"`{PARAM}[wallet]` takes one of `customer` (with a mandate) or `payment_code`.",
            f"{PARAM}[wallet]",
        )
    if customer is not None:
        cus = parse.text(customer, f"{PARAM}[wallet][customer]", required=True, limit=40)
        return MethodInput({"type": "wallet", "wallet": {"customer": cus}, "wallet_customer": cus})
    if not isinstance(code, str) or not code.isdigit() or len(code) != 18:
        raise invalid(
            "payment_code_invalid",
            "A payment code is the 18 digits the customer shows.",
            f"{PARAM}[wallet][payment_code]",
        )
    return MethodInput(
        {"type": "wallet", "wallet": {"payment_code": code[:4] + "..."}}, payment_code=code
    )


def parse_method(raw: object, vault: Vault) -> MethodInput:
    data = parse.body(raw, frozenset({"type", *TYPES, "billing_details"}))
    kind = data.get("type")
    if kind not in TYPES:
        raise invalid(
            "payment_method_invalid",
            f"`{PARAM}[type]` must be one of {', '.join(TYPES)}.",
            f"{PARAM}[type]",
        )
    if kind in ("card", "card_present"):
        method = _card(data, str(kind), vault)
    elif kind == "wallet":
        method = _wallet(data)
    else:
        if data.get(kind) not in (None, {}):
            raise invalid(
                "parameter_unknown", f"`{PARAM}[{kind}]` takes no fields.", f"{PARAM}[{kind}]"
            )
        method = MethodInput({"type": kind})
    billing = _billing(data.get("billing_details"))
    if billing is not None:
        method.public["billing_details"] = billing
    return method
