"""Labelled laundering, planned before the traffic runs. Each case gets one `label_aml_case` id
so recall can be counted per case, and every transaction of the case carries its typology.

Participants are ordinary customers who keep their honest traffic, so no account is a
launderer by name or by having no other life.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from rongpay.sim.traffic import DayClock, Event
from rongpay.sim.world import HIGH_RISK_COUNTRIES, Customer, World, new_id, to_minor

Put = Callable[[Event], None]
STRUCTURING_LIMIT_CNY = 50_000


class Case:
    """One laundering case: its id, typology and a way to emit its transfers."""

    def __init__(self, case_id: str, typology: str, rng: random.Random, clock: DayClock,
                 put: Put) -> None:  # fmt: skip
        self.id, self.typology, self.rng, self.clock, self.put = case_id, typology, rng, clock, put

    def move(self, ts: int, kind: str, amount_cny: float, payer: Customer | str,
             payee: Customer | str, channel: str = "bank", payee_country: str | None = None,
             currency: str = "CNY") -> None:  # fmt: skip
        payer_id, payer_country, device, ip = _party(payer)
        payee_id, country, _d, _i = _party(payee)
        self.put((ts, kind, to_minor(amount_cny, currency), currency, payer_id, payee_id,
                  payer_country, payee_country or country, channel, device, ip, None, None,
                  self.typology, self.id))  # fmt: skip


def _party(who: Customer | str) -> tuple[str, str, str | None, str | None]:
    if isinstance(who, str):
        return who, "CN", None, None
    return who.id, who.country, who.devices[0], who.ips[0]


def structuring(case: Case, world: World, day: int) -> None:
    rng = case.rng
    people = rng.sample(world.customers, k=min(len(world.customers), rng.randint(1, 2)))
    ts = case.clock.at(day, rng.uniform(9 * 3600, 11 * 3600))
    total = 0.0
    for _ in range(rng.randint(3, 8)):
        ts += rng.randint(2 * 3600, 30 * 3600)
        amount = rng.uniform(STRUCTURING_LIMIT_CNY * 0.9, STRUCTURING_LIMIT_CNY - 0.01)
        total += amount
        who = rng.choice(people)
        case.move(ts, "topup", amount, who, who, channel=rng.choice(("pos", "pos", "bank")))
    ts += rng.randint(3600, 40 * 3600)
    case.move(ts, "transfer", total * 0.9, people[0], rng.choice(world.customers))


def fan_in(case: Case, world: World, day: int) -> None:
    rng = case.rng
    collector = rng.choice(world.customers)
    ts0 = case.clock.at(day, rng.uniform(8 * 3600, 20 * 3600))
    total, last = 0.0, ts0
    for sender in rng.sample(world.customers, k=min(len(world.customers), rng.randint(8, 25))):
        if sender is collector:
            continue
        ts = ts0 + rng.randint(0, 3 * 86400)
        amount = rng.uniform(2_000, 9_000)
        total += amount
        last = max(last, ts)
        case.move(ts, "transfer", amount, sender, collector, channel=rng.choice(("wallet", "bank")))
    case.move(last + rng.randint(1800, 86400), "withdrawal", total * 0.97, collector, collector)


def fan_out(case: Case, world: World, day: int) -> None:
    rng = case.rng
    source = rng.choice(world.customers)
    receivers = rng.sample(world.customers, k=min(len(world.customers), rng.randint(8, 25)))
    amounts = [rng.uniform(3_000, 9_000) for _ in receivers]
    ts = case.clock.at(day, rng.uniform(8 * 3600, 12 * 3600))
    case.move(ts, "transfer", sum(amounts), new_id(rng, "acct"), source)
    for receiver, amount in zip(receivers, amounts, strict=True):
        if receiver is source:
            continue
        ts += rng.randint(60, 4 * 3600)
        case.move(ts, "transfer", amount, source, receiver, channel=rng.choice(("wallet", "bank")))
        if rng.random() < 0.5:
            out = ts + rng.randint(1800, 86400)
            case.move(out, "withdrawal", amount * 0.99, receiver, receiver)


def cycle(case: Case, world: World, day: int) -> None:
    rng = case.rng
    ring = rng.sample(world.customers, k=min(len(world.customers), rng.randint(3, 5)))
    amount = rng.uniform(20_000, 200_000)
    ts = case.clock.at(day, rng.uniform(8 * 3600, 20 * 3600))
    for _ in range(rng.randint(1, 2)):
        for i, payer in enumerate(ring):
            ts += rng.randint(1800, 12 * 3600)
            amount *= rng.uniform(0.98, 0.995)
            case.move(ts, "transfer", amount, payer, ring[(i + 1) % len(ring)])


def pass_through(case: Case, world: World, day: int) -> None:
    rng = case.rng
    hub = rng.choice(world.customers)
    ts = case.clock.at(day, rng.uniform(8 * 3600, 20 * 3600))
    for _ in range(rng.randint(2, 4)):
        amount = rng.uniform(30_000, 300_000)
        case.move(ts, "transfer", amount, new_id(rng, "acct"), hub)
        out = ts + rng.randint(600, 3 * 3600)
        share = amount * rng.uniform(0.9, 0.99)
        if rng.random() < 0.6:
            case.move(out, "transfer", share, hub, rng.choice(world.customers))
        else:
            case.move(out, "withdrawal", share, hub, hub)
        ts = out + rng.randint(6 * 3600, 2 * 86400)


def dormant_reactivation(case: Case, world: World, day: int) -> None:
    rng = case.rng
    sleeper = rng.choice(world.customers)
    sleeper.start_day, sleeper.active_until = 0, 2  # honest life only in the first two days
    wake = max(day, int(world.days * 0.7))
    ts = case.clock.at(wake, rng.uniform(8 * 3600, 20 * 3600))
    total = 0.0
    for _ in range(rng.randint(2, 5)):
        amount = rng.uniform(20_000, 100_000)
        total += amount
        ts += rng.randint(600, 6 * 3600)
        case.move(ts, "transfer", amount, new_id(rng, "acct"), sleeper)
    ts += rng.randint(600, 6 * 3600)
    case.move(ts, "withdrawal", total * 0.95, sleeper, sleeper)


def high_risk_geo(case: Case, world: World, day: int) -> None:
    rng = case.rng
    sender = rng.choice(world.customers)
    country = rng.choice(HIGH_RISK_COUNTRIES)
    partner = new_id(rng, "acct")
    ts = case.clock.at(day, rng.uniform(8 * 3600, 20 * 3600))
    for _ in range(rng.randint(2, 5)):
        ts += rng.randint(3600, 2 * 86400)
        amount = rng.uniform(10_000, 80_000)
        case.move(ts, "transfer", amount, sender, partner, payee_country=country, currency="USD")


TYPOLOGIES: dict[str, Callable[[Case, World, int], None]] = {
    "structuring": structuring,
    "fan_in": fan_in,
    "fan_out": fan_out,
    "cycle": cycle,
    "pass_through": pass_through,
    "dormant_reactivation": dormant_reactivation,
    "high_risk_geo": high_risk_geo,
}
SPAN_DAYS = 8  # the longest a case runs; cases start early enough to finish in the window


def plan_aml(rng: random.Random, world: World, clock: DayClock, put: Put) -> int:
    """Schedule every laundering case; return how many cases were planned."""
    days = world.days
    per_type = max(1, round(len(world.customers) * days / 5000.0))
    # Sleepers first, chosen among people with no salary coming in, so that they are truly
    # silent; every other case (and every fraud) then draws from the awake.
    employed = {i for emp in world.employers for i in emp.staff}
    unemployed = [c for i, c in enumerate(world.customers) if i not in employed]
    count = 0
    if days >= 5 and unemployed:
        pool = replace(world, customers=unemployed)
        for _ in range(per_type):
            count += 1
            case = Case(f"case_{count:05d}", "dormant_reactivation", rng, clock, put)
            dormant_reactivation(case, pool, rng.randrange(max(1, days - SPAN_DAYS)))
    world = awake(world)
    for typology, play in TYPOLOGIES.items():
        for _ in range(per_type if typology != "dormant_reactivation" else 0):
            count += 1
            case = Case(f"case_{count:05d}", typology, rng, clock, put)
            play(case, world, rng.randrange(max(1, days - SPAN_DAYS)))
    return count


def awake(world: World) -> World:
    """WORLD with only the customers active to its last day."""
    return replace(world, customers=[c for c in world.customers if c.active_until > world.days])
