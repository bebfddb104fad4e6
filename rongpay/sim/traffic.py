"""Honest traffic: daily rhythms, habits, favourite merchants, P2P, salaries and bill splits.

Much of it is a decoy on purpose: merchants with thousands of payers, salary runs to hundreds of
new payees, commuters paying tiny fares all day, travellers abroad on a fresh IP, big but honest
purchases. A naive rule fires on all of them.

An event is a tuple in the order of FIELDS (fast to build and to sort by time).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from rongpay.sim.world import COUNTRY_CURRENCY, Customer, World, random_ip, to_minor

FIELDS = (
    "ts", "type", "amount_minor", "currency", "payer", "payee", "payer_country",
    "payee_country", "channel", "device_id", "ip", "mcc", "label_fraud", "label_aml",
    "label_aml_case",
)  # fmt: skip
Event = tuple[int, str, int, str, str, str, str, str, str, str | None, str | None, str | None,
              str | None, str | None, str | None]  # fmt: skip
LOCAL_OFFSET_S = 8 * 3600  # customers live on UTC+8; a "day" is a local day
RISKY_SHOPPING = ("5732", "5944")
PAY_CHANNELS = ("card", "wallet", "qr", "nfc", "pos")
PAY_CHANNEL_WEIGHTS = (30, 30, 25, 10, 5)
MAX_EVENTS_PER_CUSTOMER_DAY = 40


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; LAM is small here (a few events a day)."""
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit and k < MAX_EVENTS_PER_CUSTOMER_DAY:
        k += 1
        p *= rng.random()
    return k


class DayClock:
    """Turns (day, local second) into a UTC epoch second."""

    def __init__(self, base_utc_s: int) -> None:
        self.base = base_utc_s

    def at(self, day: int, local_s: float) -> int:
        return self.base + day * 86400 + int(local_s) - LOCAL_OFFSET_S


def habit_second(rng: random.Random, cust: Customer) -> float:
    hour = rng.gauss(rng.choice(cust.peak_hours), 1.8)
    return (hour % 24) * 3600


def device_and_ip(rng: random.Random, cust: Customer, day: int) -> tuple[str, str]:
    devices = cust.devices
    device = devices[-1] if cust.new_device_day is not None and day >= cust.new_device_day \
        else devices[0] if len(devices) == 1 or rng.random() < 0.8 else devices[1]  # fmt: skip
    return device, rng.choice(cust.ips)


class HonestTraffic:
    """Generates one local day of honest events into EMIT (future days go to LATER)."""

    def __init__(self, rng: random.Random, world: World, clock: DayClock,
                 later: Callable[[int, Event], None]) -> None:  # fmt: skip
        self.rng, self.world, self.clock, self.later = rng, world, clock, later
        self.today = 0
        self.transit = world.by_mcc["4111"]
        for cust in world.customers:
            if cust.new_device_day is not None:
                cust.devices.append(f"dev_{rng.getrandbits(40):010x}")
            if cust.trip is not None:
                cust.trip_ip = random_ip(rng, cust.trip[2])

    def day(self, d: int, weekday: int, emit: Callable[[Event], None]) -> None:
        rng, customers = self.rng, self.world.customers
        boost = 1.25 if weekday >= 5 else 1.0
        self.today = d
        for cust in customers:
            if d < cust.start_day or d >= cust.active_until:
                continue
            if d == cust.start_day and cust.start_day > 0:
                self.welcome(cust, d, emit)
            for _ in range(poisson(rng, cust.rate_per_day * boost)):
                self.one(cust, d, emit)
            if cust.commuter and weekday < 5:
                self.commute(cust, d, emit)
            if cust.remits_to and d % 30 == hash_day(cust.id):
                self.remit(cust, d, emit)

    def one(self, cust: Customer, d: int, emit: Callable[[Event], None]) -> None:
        r = self.rng.random()
        if r < 0.84:
            self.payment(cust, d, emit)
        elif r < 0.92:
            self.p2p(cust, d, emit)
        elif r < 0.96:
            self.topup(cust, d, self.rng.lognormvariate(6.8, 0.9), emit)
        else:
            self.withdraw(cust, d, emit)

    def on_trip(self, cust: Customer, d: int) -> str | None:
        trip = cust.trip
        if trip is not None and trip[0] <= d < trip[0] + trip[1]:
            return trip[2]
        return None

    def payment(self, cust: Customer, d: int, emit: Callable[[Event], None]) -> None:
        rng, world = self.rng, self.world
        abroad = self.on_trip(cust, d)
        if abroad and rng.random() < 0.12:
            self.shop_abroad(cust, d, abroad, emit)
            return
        if abroad and world.by_country.get(abroad):
            midx = rng.choice(world.by_country[abroad])
        elif rng.random() < 0.85:
            midx = rng.choice(cust.favourites)
        else:
            midx = rng.choices(range(len(world.merchants)), world.merchant_weights)[0]
        merchant = world.merchants[midx]
        amount = merchant.ticket_cny * cust.spend_mult * rng.lognormvariate(0.0, 0.5)
        if rng.random() < 0.004:  # an honest big purchase: a phone, a ring, a sofa
            amount = rng.uniform(3_000, 30_000)
        ts = self.clock.at(d, habit_second(rng, cust) + rng.random() * 3600)
        device: str | None
        ip: str | None
        device, ip = device_and_ip(rng, cust, d)
        channel = rng.choices(PAY_CHANNELS, PAY_CHANNEL_WEIGHTS)[0]
        if abroad:
            device, ip = (None, None) if rng.random() < 0.4 else (device, cust.trip_ip)
            channel = "pos" if device is None else "card"
        minor = to_minor(amount, merchant.currency)
        emit((ts, "payment", minor, merchant.currency, cust.id, merchant.id, cust.country,
              merchant.country, channel, device, ip, merchant.mcc, None, None, None))  # fmt: skip
        back = d + rng.randint(1, 5)
        if rng.random() < 0.012 and back < cust.active_until:
            self.later(back, (ts + (back - d) * 86400, "refund", minor, merchant.currency,
                              merchant.id, cust.id, merchant.country, cust.country, channel,
                              None, None, merchant.mcc, None, None, None))  # fmt: skip
        if merchant.mcc == "5812" and amount > 200 and rng.random() < 0.25:
            self.split_bill(cust, ts, amount, emit)

    def shop_abroad(self, cust: Customer, d: int, country: str,
                    emit: Callable[[Event], None]) -> None:  # fmt: skip
        """A tourist's big buy: electronics or jewellery abroad, often at a terminal."""
        rng, world = self.rng, self.world
        pool = [i for m in RISKY_SHOPPING for i in world.by_mcc.get(m, ())
                if world.merchants[i].country != "CN"]  # fmt: skip
        if not pool:
            return
        shop = world.merchants[rng.choice(pool)]
        ts = self.clock.at(d, rng.uniform(10 * 3600, 21 * 3600))
        device, ip = (None, None) if rng.random() < 0.4 else (cust.devices[0], cust.trip_ip)
        channel = "pos" if device is None else "card"
        emit((ts, "payment", to_minor(rng.uniform(1_500, 8_000), shop.currency), shop.currency,
              cust.id, shop.id, cust.country, shop.country, channel, device, ip, shop.mcc, None,
              None, None))  # fmt: skip

    def welcome(self, cust: Customer, d: int, emit: Callable[[Event], None]) -> None:
        """A new customer's first day: a top-up, and sometimes a new phone straight away."""
        rng = self.rng
        self.topup(cust, d, rng.lognormvariate(7.5, 0.7), emit)
        if rng.random() < 0.2:
            pool = self.world.by_mcc.get("5732") or [0]
            shop = self.world.merchants[rng.choice(pool)]
            ts = self.clock.at(d, 22 * 3600 + rng.random() * 3000)
            emit((ts, "payment", to_minor(rng.uniform(2_000, 8_000), shop.currency),
                  shop.currency, cust.id, shop.id, cust.country, shop.country, "wallet",
                  cust.devices[0], cust.ips[0], shop.mcc, None, None, None))  # fmt: skip

    def split_bill(self, payer: Customer, ts: int, amount: float,
                   emit: Callable[[Event], None]) -> None:  # fmt: skip
        rng, customers = self.rng, self.world.customers
        share = amount / (len(payer.friends) + 1)
        for fidx in payer.friends:
            friend = customers[fidx]
            if (
                friend is payer
                or friend.active_until <= self.today
                or friend.start_day > self.today
            ):
                continue
            when = ts + rng.randint(300, 6 * 3600)
            device, ip = friend.devices[0], friend.ips[0]
            emit((when, "transfer", to_minor(share, "CNY"), "CNY", friend.id, payer.id,
                  friend.country, payer.country, "wallet", device, ip, None, None, None,
                  None))  # fmt: skip

    def p2p(self, cust: Customer, d: int, emit: Callable[[Event], None]) -> None:
        rng = self.rng
        friend = self.world.customers[rng.choice(cust.friends)]
        if friend is cust or not friend.start_day <= d < friend.active_until:
            return
        ts = self.clock.at(d, habit_second(rng, cust) + rng.random() * 3600)
        device, ip = device_and_ip(rng, cust, d)
        amount = rng.lognormvariate(5.0, 1.0)
        if rng.random() < 0.015:  # a second-hand car, a deposit: big, to someone new, honest
            friend = rng.choice(self.world.customers)
            amount = rng.uniform(2_000, 50_000)
            if friend is cust or not friend.start_day <= d < friend.active_until:
                return
        emit((ts, "transfer", to_minor(amount, "CNY"), "CNY", cust.id, friend.id, cust.country,
              friend.country, "wallet", device, ip, None, None, None,
                  None))  # fmt: skip

    def topup(self, cust: Customer, d: int, amount: float, emit: Callable[[Event], None]) -> None:
        rng = self.rng
        ts = self.clock.at(d, habit_second(rng, cust) + rng.random() * 3600)
        device, ip = device_and_ip(rng, cust, d)
        if rng.random() < 0.01:  # a car deposit, a year's rent: big, honest, once
            amount = rng.uniform(20_000, 120_000)
        channel = "pos" if rng.random() < 0.15 else "bank"
        emit((ts, "topup", to_minor(amount, "CNY"), "CNY", cust.id, cust.id, cust.country,
              cust.country, channel, device, ip, None, None, None, None))  # fmt: skip

    def withdraw(self, cust: Customer, d: int, emit: Callable[[Event], None]) -> None:
        rng = self.rng
        ts = self.clock.at(d, habit_second(rng, cust) + rng.random() * 3600)
        device, ip = device_and_ip(rng, cust, d)
        amount = rng.lognormvariate(6.5, 0.9)
        emit((ts, "withdrawal", to_minor(amount, "CNY"), "CNY", cust.id, cust.id, cust.country,
              cust.country, "bank", device, ip, None, None, None, None))  # fmt: skip

    def commute(self, cust: Customer, d: int, emit: Callable[[Event], None]) -> None:
        rng = self.rng
        metro = self.world.merchants[self.transit[0]]
        device, ip = cust.devices[0], cust.ips[0]
        for base_h in (8, 18):
            for leg in range(rng.randint(1, 2)):
                ts = self.clock.at(d, base_h * 3600 + leg * 1800 + rng.random() * 1500)
                amount = rng.choice((2, 3, 4, 5, 6))
                emit((ts, "payment", amount * 100, "CNY", cust.id, metro.id, cust.country,
                      "CN", "nfc", device, ip, "4111", None, None, None))  # fmt: skip

    def remit(self, cust: Customer, d: int, emit: Callable[[Event], None]) -> None:
        rng = self.rng
        country = cust.remits_to or "PH"
        currency = COUNTRY_CURRENCY[country]
        ts = self.clock.at(d, 10 * 3600 + rng.random() * 36000)
        amount = rng.uniform(2_000, 8_000)
        emit((ts, "transfer", to_minor(amount, currency), currency, cust.id, cust.remit_payee,
              cust.country, country, "bank", cust.devices[0], cust.ips[0], None, None, None,
              None))  # fmt: skip

    def salaries(self, d: int, day_of_month: int, emit: Callable[[Event], None]) -> None:
        rng, customers = self.rng, self.world.customers
        for emp in self.world.employers:
            if day_of_month not in emp.pay_days:
                continue
            total = sum(emp.salary_cny)
            device = f"dev_{hash_day(emp.id) * 7919:010x}"
            ip = f"61.{hash_day(emp.id)}.10.2"
            start = self.clock.at(d, 8 * 3600 + rng.random() * 3600)
            emit((start, "topup", to_minor(total, "CNY"), "CNY", emp.id, emp.id, "CN", "CN",
                  "bank", device, ip, None, None, None, None))  # fmt: skip
            for i, (sidx, salary) in enumerate(zip(emp.staff, emp.salary_cny, strict=True)):
                staff = customers[sidx]
                if staff.start_day > d:  # not hired yet
                    continue
                emit((start + 3600 + i * 2, "transfer", round(salary) * 100, "CNY", emp.id,
                      staff.id, "CN", staff.country, "bank", device, ip, None, None, None,
                      None))  # fmt: skip


def hash_day(account_id: str) -> int:
    """A stable small number from an id (not Python's salted hash)."""
    return int(account_id[-4:], 16) % 30
