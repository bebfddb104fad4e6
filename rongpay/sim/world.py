"""The simulated world: customers, merchants, employers and the static tables they draw from.

Every account id is an opaque `acct_<hex>`: a mule, a merchant and a salaried customer look
alike by name, so a detector has to tell them apart by behaviour.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# CNY per one major unit of each currency (static, for simulation only), and exponents.
CNY_PER_UNIT: dict[str, float] = {
    "CNY": 1.0,
    "USD": 7.2,
    "EUR": 7.8,
    "GBP": 9.1,
    "JPY": 0.048,
    "HKD": 0.92,
    "SGD": 5.3,
    "THB": 0.2,
    "KRW": 0.0052,
    "AUD": 4.7,
    "AED": 1.96,
    "PHP": 0.125,
    "VND": 0.00028,
}
EXPONENT: dict[str, int] = {"JPY": 0, "KRW": 0, "VND": 0}
COUNTRY_CURRENCY: dict[str, str] = {
    "CN": "CNY",
    "US": "USD",
    "DE": "EUR",
    "FR": "EUR",
    "GB": "GBP",
    "JP": "JPY",
    "HK": "HKD",
    "SG": "SGD",
    "TH": "THB",
    "KR": "KRW",
    "AU": "AUD",
    "AE": "AED",
    "PH": "PHP",
    "VN": "VND",
    "IR": "USD",
    "KP": "USD",
    "MM": "USD",
    "SY": "USD",
    "YE": "USD",
    "AF": "USD",
}
FOREIGN_COUNTRIES = ("US", "DE", "FR", "GB", "JP", "HK", "SG", "TH", "KR", "AU", "AE")
HIGH_RISK_COUNTRIES = ("IR", "KP", "MM", "SY", "YE", "AF")
REMITTANCE_COUNTRIES = ("PH", "VN", "US", "HK", "SG", "TH")
CUSTOMER_COUNTRIES = ("CN",) * 17 + ("HK", "SG", "US")

# First octets per country so an IP says roughly where it is, as GeoIP would.
IP_FIRST_OCTET: dict[str, tuple[int, ...]] = {
    "CN": (
        36,
        39,
        42,
        58,
        59,
        60,
        61,
        101,
        110,
        111,
        112,
        113,
        114,
        115,
        116,
        117,
        118,
        119,
        120,
        121,
        122,
        123,
        124,
        125,
        175,
        180,
        182,
        183,
        202,
        210,
        211,
        218,
        219,
        220,
        221,
    ),
    "US": (3, 8, 23, 50, 64, 66, 72, 98, 104),
    "DE": (46, 78, 79, 84),
    "FR": (2, 80, 82, 90),
    "GB": (25, 51, 81, 86),
    "JP": (126, 133, 153),
    "HK": (14, 103, 158),
    "SG": (128, 165),
    "TH": (171, 184),
    "KR": (1, 175),
    "AU": (49, 101),
    "AE": (5, 94),
    "PH": (112, 130),
    "VN": (14, 27),
    "IR": (2, 5, 37),
    "KP": (175,),
    "MM": (37, 103),
    "SY": (5, 31),
    "YE": (134,),
    "AF": (180,),
}

# (mcc, typical ticket in CNY, risky category)
MCC_TABLE: tuple[tuple[str, float, bool], ...] = (
    ("5411", 90.0, False),  # grocery
    ("5812", 70.0, False),  # restaurants
    ("5814", 30.0, False),  # fast food
    ("4121", 28.0, False),  # taxis and ride hailing
    ("4111", 4.0, False),  # local transit
    ("5541", 300.0, False),  # fuel
    ("5311", 350.0, False),  # department stores
    ("5691", 280.0, False),  # clothing
    ("5912", 60.0, False),  # pharmacy
    ("4814", 80.0, False),  # telecom top-up
    ("7011", 650.0, False),  # hotels
    ("4511", 1500.0, False),  # airlines
    ("5816", 40.0, True),  # digital goods and games
    ("5732", 2200.0, True),  # electronics
    ("5944", 4000.0, True),  # jewellery
    ("6051", 1000.0, True),  # quasi-cash, gift cards, crypto
    ("7995", 250.0, True),  # gambling
)
MCC_WEIGHTS = (20, 18, 16, 10, 6, 6, 6, 5, 4, 4, 2, 1, 4, 2, 1, 1, 1)
RISKY_MCCS = tuple(m for m, _t, risky in MCC_TABLE if risky)
TICKET = {m: t for m, t, _r in MCC_TABLE}


def new_id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}_{rng.getrandbits(48):012x}"


def random_ip(rng: random.Random, country: str) -> str:
    first = rng.choice(IP_FIRST_OCTET.get(country, (185,)))
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def to_minor(amount_cny: float, currency: str) -> int:
    """CNY-equivalent major units to minor units of CURRENCY (never below one minor unit)."""
    major = amount_cny / CNY_PER_UNIT[currency]
    scale: int = 10 ** EXPONENT.get(currency, 2)
    return max(1, round(major * scale))


@dataclass(slots=True)
class Merchant:
    id: str
    country: str
    currency: str
    mcc: str
    ticket_cny: float


@dataclass(slots=True)
class Customer:
    """A person with habits; mutable only while the world is built."""

    id: str
    country: str
    currency: str
    devices: list[str]
    ips: list[str]
    rate_per_day: float
    spend_mult: float
    peak_hours: tuple[int, int]
    favourites: list[int]
    friends: list[int] = field(default_factory=list)
    start_day: int = 0
    active_until: int = 1 << 30
    commuter: bool = False
    remits_to: str | None = None
    remit_payee: str = ""
    trip: tuple[int, int, str] | None = None
    trip_ip: str = ""
    new_device_day: int | None = None


@dataclass(slots=True)
class Employer:
    id: str
    staff: list[int]
    salary_cny: list[float]
    pay_days: tuple[int, int]


@dataclass(slots=True)
class World:
    merchants: list[Merchant]
    merchant_weights: list[float]
    by_country: dict[str, list[int]]
    by_mcc: dict[str, list[int]]
    customers: list[Customer]
    employers: list[Employer]
    days: int


def build_merchants(rng: random.Random, n: int) -> tuple[list[Merchant], list[float]]:
    merchants: list[Merchant] = []
    weights: list[float] = []
    mccs = [m for m, _t, _r in MCC_TABLE]
    for rank in range(n):
        mcc = rng.choices(mccs, MCC_WEIGHTS)[0]
        foreign = rng.random() < 0.15 or (mcc in ("7011", "4511") and rng.random() < 0.4)
        country = rng.choice(FOREIGN_COUNTRIES) if foreign else "CN"
        merchants.append(
            Merchant(new_id(rng, "acct"), country, COUNTRY_CURRENCY[country], mcc, TICKET[mcc])
        )
        # Zipf popularity: the first merchants get thousands of payers (an honest decoy).
        weights.append(0.05 if foreign else 1.0 / (rank + 1) ** 0.9)
    return merchants, weights


def build_customer(
    rng: random.Random, world_days: int, n_merchants: int, weights: list[float]
) -> Customer:
    country = rng.choice(CUSTOMER_COUNTRIES)
    devices = [new_id(rng, "dev")] + ([new_id(rng, "dev")] if rng.random() < 0.3 else [])
    ips = [random_ip(rng, country) for _ in range(rng.randint(1, 3))]
    favourites = rng.choices(range(n_merchants), weights, k=rng.randint(3, 10))
    peaks = (rng.choice((8, 12, 13, 19, 20, 21)), rng.choice((12, 18, 20, 22)))
    cust = Customer(
        id=new_id(rng, "acct"),
        country=country,
        currency=COUNTRY_CURRENCY[country],
        devices=devices,
        ips=ips,
        rate_per_day=rng.lognormvariate(0.0, 0.6),
        spend_mult=rng.lognormvariate(0.0, 0.5),
        peak_hours=peaks,
        favourites=favourites,
    )
    if rng.random() < 0.08:
        cust.start_day = rng.randrange(max(1, world_days))
    cust.commuter = rng.random() < 0.15
    if rng.random() < 0.05:
        cust.remits_to = rng.choice(REMITTANCE_COUNTRIES)
        cust.remit_payee = new_id(rng, "acct")
    if rng.random() < 0.04 and world_days >= 3:
        start = rng.randrange(world_days)
        cust.trip = (start, rng.randint(2, 7), rng.choice(FOREIGN_COUNTRIES))
    if rng.random() < 0.015:
        cust.new_device_day = rng.randrange(max(1, world_days))
    return cust


def build_world(rng: random.Random, days: int, n_customers: int, n_merchants: int) -> World:
    merchants, weights = build_merchants(rng, max(1, n_merchants))
    # A metro operator and a ride-hailing platform: huge payer counts, tiny tickets (decoys).
    for mcc in ("4111", "4121", "5816"):
        merchants.append(Merchant(new_id(rng, "acct"), "CN", "CNY", mcc, TICKET[mcc]))
        weights.append(0.5)
    customers = [build_customer(rng, days, len(merchants), weights) for _ in range(n_customers)]
    for cust in customers:
        cust.friends = [rng.randrange(n_customers) for _ in range(rng.randint(1, 5))]
    employers: list[Employer] = []
    remaining = list(range(n_customers))
    rng.shuffle(remaining)
    pos = int(len(remaining) * 0.6)  # 60% of customers get a salary through the platform
    while pos > 0:
        size = min(pos, rng.choice((5, 20, 60, 200)))
        staff = remaining[pos - size : pos]
        pos -= size
        salaries = [rng.lognormvariate(9.0, 0.4) for _ in staff]  # ~8,000 CNY median
        employers.append(
            Employer(new_id(rng, "acct"), staff, salaries, rng.choice(((10, 25), (1, 15), (5, 20))))
        )
    by_country: dict[str, list[int]] = {}
    by_mcc: dict[str, list[int]] = {}
    for idx, merchant in enumerate(merchants):
        by_country.setdefault(merchant.country, []).append(idx)
        by_mcc.setdefault(merchant.mcc, []).append(idx)
    return World(merchants, weights, by_country, by_mcc, customers, employers, days)
