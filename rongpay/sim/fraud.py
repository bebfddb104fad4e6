"""Labelled fraud, planned before the traffic runs: each pattern as a fraudster plays it.

- card_testing: a stolen card number tried with tiny amounts in a burst, then a cash-out buy.
- account_takeover: a new device logs in and drains the wallet to mule accounts (new payees).
- stolen_card: high-value buys at risky merchant categories, mostly abroad, from a new device.
- synthetic_identity: a ring of brand-new accounts sharing a device farm tops up and buys
  resaleable goods within hours.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from rongpay.sim.traffic import DayClock, Event
from rongpay.sim.world import (
    FOREIGN_COUNTRIES,
    RISKY_MCCS,
    Customer,
    Merchant,
    World,
    new_id,
    random_ip,
    to_minor,
)

Put = Callable[[Event], None]
MAX_TRIES = 50


def pick_victim(rng: random.Random, world: World, day: int) -> Customer:
    for _ in range(MAX_TRIES):
        cust = rng.choice(world.customers)
        if cust.start_day <= day < cust.active_until:
            return cust
    return world.customers[0]


def pick_merchant(rng: random.Random, world: World, mccs: tuple[str, ...],
                  foreign: bool | None = None) -> Merchant:  # fmt: skip
    pool = [i for m in mccs for i in world.by_mcc.get(m, ())]
    if foreign is not None:
        narrowed = [i for i in pool if (world.merchants[i].country != "CN") == foreign]
        pool = narrowed or pool
    return world.merchants[rng.choice(pool)] if pool else rng.choice(world.merchants)


def attacker(rng: random.Random, abroad_p: float) -> tuple[str, str, str]:
    country = rng.choice(FOREIGN_COUNTRIES) if rng.random() < abroad_p else "CN"
    return new_id(rng, "dev"), random_ip(rng, country), country


def card_testing(rng: random.Random, world: World, clock: DayClock, day: int, put: Put) -> None:
    victim = pick_victim(rng, world, day)
    device, ip, _country = attacker(rng, 0.5)
    merchant = pick_merchant(rng, world, ("5816", "4814"))
    night = rng.random() < 0.6
    ts = clock.at(day, rng.uniform(0, 6 * 3600) if night else rng.uniform(6 * 3600, 86000))
    slow = rng.random() < 0.4  # patient testers spread a few tries over hours
    for _ in range(rng.randint(2, 6) if slow else rng.randint(5, 40)):
        ts += rng.randint(600, 5400) if slow else rng.randint(4, 240)
        amount = to_minor(rng.uniform(0.5, 30.0), merchant.currency)
        put((ts, "payment", amount, merchant.currency, victim.id, merchant.id, victim.country,
             merchant.country, "card", device, ip, merchant.mcc, "card_testing", None,
             None))  # fmt: skip
    for _ in range(rng.choice((0, 1, 1, 2))):
        shop = pick_merchant(rng, world, ("5732", "6051"))
        ts += rng.randint(60, 1800)
        amount = to_minor(rng.uniform(800, 5000), shop.currency)
        put((ts, "payment", amount, shop.currency, victim.id, shop.id, victim.country,
             shop.country, "card", device, ip, shop.mcc, "card_testing", None, None))  # fmt: skip


def account_takeover(rng: random.Random, world: World, clock: DayClock, day: int, put: Put,
                     mules: list[Customer]) -> None:  # fmt: skip
    victim = pick_victim(rng, world, day)
    device, ip, _country = attacker(rng, 0.4)
    if rng.random() < 0.35:  # remote-access malware: the victim's own phone and network
        device, ip = victim.devices[0], victim.ips[0]
    ts = clock.at(day, rng.uniform(0, 86000))
    takers = rng.sample(mules, k=min(len(mules), rng.randint(1, 3)))
    received: dict[str, int] = {}
    for _ in range(rng.randint(2, 5)):
        mule = rng.choice(takers)
        ts += rng.randint(60, 1200)
        amount = to_minor(rng.uniform(800, 20_000), "CNY")
        received[mule.id] = received.get(mule.id, 0) + amount
        channel = rng.choice(("wallet", "bank"))
        put((ts, "transfer", amount, "CNY", victim.id, mule.id, victim.country, mule.country,
             channel, device, ip, None, "account_takeover", None, None))  # fmt: skip
    for mule in takers:  # the mules cash out from their own phones (not labelled fraud)
        if mule.id in received:
            out = ts + rng.randint(600, 3 * 3600)
            put((out, "withdrawal", received[mule.id], "CNY", mule.id, mule.id, mule.country,
                 mule.country, "bank", mule.devices[0], mule.ips[0], None, None, None,
                 None))  # fmt: skip


def stolen_card(rng: random.Random, world: World, clock: DayClock, day: int, put: Put) -> None:
    victim = pick_victim(rng, world, day)
    abroad = rng.random() < 0.75
    device, ip, _country = attacker(rng, 1.0 if abroad else 0.0)
    cloned = rng.random() < 0.4  # a skimmed card used at a terminal: no device, no IP
    dev, addr = (None, None) if cloned else (device, ip)
    ts = clock.at(day, rng.uniform(0, 86000))
    for _ in range(rng.randint(2, 6)):
        shop = pick_merchant(rng, world, RISKY_MCCS[1:4], foreign=abroad)
        ts += rng.randint(300, 5400)
        amount = to_minor(rng.uniform(1_500, 15_000), shop.currency)
        put((ts, "payment", amount, shop.currency, victim.id, shop.id, victim.country,
             shop.country, "pos" if cloned else "card", dev, addr, shop.mcc, "stolen_card", None,
             None))  # fmt: skip


def synthetic_ring(rng: random.Random, world: World, clock: DayClock, day: int, put: Put,
                   days: int) -> None:  # fmt: skip
    farm = [new_id(rng, "dev") for _ in range(rng.randint(1, 2))]
    ip = random_ip(rng, "CN")
    careful = rng.random() < 0.5  # a ring that buys a fresh phone and SIM per identity
    for _ in range(rng.randint(3, 8)):
        account = new_id(rng, "acct")
        when = min(days - 1, day + rng.randint(0, 2))
        ts = clock.at(when, rng.uniform(8 * 3600, 22 * 3600))
        device = new_id(rng, "dev") if careful else rng.choice(farm)
        if careful:
            ip = random_ip(rng, "CN")
        put((ts, "topup", to_minor(rng.uniform(3_000, 20_000), "CNY"), "CNY", account, account,
             "CN", "CN", "bank", device, ip, None, "synthetic_identity", None, None))  # fmt: skip
        for _ in range(rng.randint(1, 3)):
            shop = pick_merchant(rng, world, ("5732", "6051", "5944"), foreign=False)
            ts += rng.randint(300, 4 * 3600)
            amount = to_minor(rng.uniform(2_000, 10_000), shop.currency)
            put((ts, "payment", amount, shop.currency, account, shop.id, "CN", shop.country,
                 rng.choice(("card", "wallet")), device, ip, shop.mcc, "synthetic_identity",
                 None, None))  # fmt: skip


def plan_fraud(rng: random.Random, world: World, clock: DayClock, put: Put) -> None:
    """Schedule every fraud case; the case count scales with customer-days."""
    days = world.days
    scale = len(world.customers) * days / 2000.0
    mules = rng.sample(
        world.customers, k=max(1, min(len(world.customers), len(world.customers) // 300 + 2))
    )
    for _ in range(max(1, round(scale * 1.0))):
        card_testing(rng, world, clock, rng.randrange(days), put)
    for _ in range(max(1, round(scale * 0.8))):
        account_takeover(rng, world, clock, rng.randrange(days), put, mules)
    for _ in range(max(1, round(scale * 1.0))):
        stolen_card(rng, world, clock, rng.randrange(days), put)
    for _ in range(max(1, round(scale * 0.3))):
        synthetic_ring(rng, world, clock, rng.randrange(days), put, days)
