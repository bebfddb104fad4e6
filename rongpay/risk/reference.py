"""Static reference data the features lean on: reference FX rates, risky categories, countries.

The rates turn amounts into a CNY-equivalent *feature* (a float for a model, never money); they
are rough on purpose and only need to keep amounts in different currencies comparable.
"""

from __future__ import annotations

from rongpay.money import currencies

# CNY per one major unit. A currency missing here counts one major unit as one CNY.
CNY_PER_UNIT: dict[str, float] = {
    "CNY": 1.0, "USD": 7.2, "EUR": 7.8, "GBP": 9.1, "JPY": 0.048, "HKD": 0.92, "SGD": 5.3,
    "THB": 0.2, "KRW": 0.0052, "AUD": 4.7, "AED": 1.96, "PHP": 0.125, "VND": 0.00028,
    "CAD": 5.2, "CHF": 8.1, "NZD": 4.3, "MYR": 1.6, "IDR": 0.00045, "INR": 0.085, "TWD": 0.22,
    "MOP": 0.89, "RUB": 0.078, "BRL": 1.3, "MXN": 0.39, "ZAR": 0.39, "SAR": 1.92, "TRY": 0.21,
}  # fmt: skip

# Merchant categories that fraudsters favour: digital goods, electronics, jewellery,
# quasi-cash and crypto, gambling, money transfer.
RISKY_MCCS = frozenset({"5816", "5732", "5944", "6051", "7995", "4829", "6211", "5967"})

# FATF "call for action" and a few conflict zones: a transfer there is high-risk geography.
HIGH_RISK_COUNTRIES = frozenset({"KP", "IR", "MM", "SY", "YE", "AF", "SS"})

SMALL_AMOUNT_CNY = 10.0  # below this a card payment looks like a card test


CNY_PER_MINOR_CACHE: dict[
    str, float
] = {}  # CNY per minor unit, filled on first use of each currency


def cny_per_minor(currency: str) -> float:
    scale = CNY_PER_MINOR_CACHE.get(currency)
    if scale is None:
        exponent: int = currencies()[currency].exponent
        scale = CNY_PER_MINOR_CACHE[currency] = CNY_PER_UNIT.get(currency, 1.0) / float(
            10**exponent
        )
    return scale


def amount_cny(amount_minor: int, currency: str) -> float:
    """A CNY-equivalent size for features (rough, never for money movements)."""
    return amount_minor * cny_per_minor(currency)
