"""Behavioural features computed online, from history only.

`FeatureState.observe(event)` returns the feature vector of EVENT computed from the events
before it, then folds EVENT into the state: a score can never see the future. Windows run from
ten minutes to a week; per-account habit maps (devices, IPs, payees, countries) are capped; idle
entities are swept, so memory stays bounded however long the stream runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from math import log1p  # every argument is >= 0 (sums may be -1e-12: still fine)

from rongpay.risk.event import Event
from rongpay.risk.reference import (
    CNY_PER_MINOR_CACHE,
    HIGH_RISK_COUNTRIES,
    RISKY_MCCS,
    SMALL_AMOUNT_CNY,
    cny_per_minor,
)
from rongpay.risk.windows import Distinct, Timeline, bump

FEATURES: tuple[str, ...] = (
    "amount_log", "type_code", "channel_code", "mcc_code", "mcc_risky", "cross_border",
    "payee_country_high_risk", "new_currency_for_payer",
    "payer_cnt_10m", "payer_cnt_1h", "payer_cnt_24h", "payer_cnt_7d", "payer_sum_1h_log",
    "payer_sum_24h_log", "payer_small_cnt_1h", "payer_distinct_payees_24h",
    "payer_distinct_devices_24h", "payer_secs_since_last_log", "payer_age_days",
    "payer_n_events_log", "amount_z", "amount_vs_max_log", "hour_habit", "new_device_for_payer",
    "new_ip_for_payer", "new_payee_for_payer", "new_country_for_payer", "payer_in_sum_7d_log",
    "payer_out_24h_vs_in_7d",
    "device_cnt_1h", "device_distinct_payers_24h", "device_distinct_payers_7d", "device_age_log",
    "ip_cnt_1h", "ip_distinct_payers_24h", "ip_age_log",
    "payee_cnt_10m", "payee_cnt_1h", "payee_distinct_payers_24h", "payee_age_days",
    "payee_in_sum_24h_log", "payee_n_events_log", "payee_distinct_payers_7d",
    "payee_out_vs_in_7d",
)  # fmt: skip
INDEX = {name: i for i, name in enumerate(FEATURES)}
TYPE_CODE = {"payment": 0, "transfer": 1, "topup": 2, "withdrawal": 3, "refund": 4}
CHANNEL_CODE = {"card": 0, "wallet": 1, "bank": 2, "qr": 3, "nfc": 4, "pos": 5}
DAY_S, HOUR_S, MIN10_S, WEEK_S = 86400.0, 3600.0, 600.0, 7 * 86400.0
CAP_DEVICES, CAP_IPS, CAP_PAYEES, CAP_COUNTRIES, CAP_CURRENCIES = 32, 64, 256, 32, 16
MIN_STD_LOG = 0.5  # a customer who always pays the same amount still has some spread


class Account:
    """What we know of one account, as payer and as payee; its profile is queryable."""

    __slots__ = (
        "countries",
        "currencies",
        "devices",
        "devices24",
        "first_ts",
        "hours",
        "inflow",
        "ips",
        "last_out_ts",
        "last_ts",
        "m2",
        "max_log",
        "mean",
        "n",
        "out",
        "payees",
        "payees24",
        "payers7d",
        "payers24",
        "small",
    )  # fmt: skip

    def __init__(self, ts: float) -> None:
        self.out, self.inflow, self.small = Timeline(), Timeline(), Timeline()
        self.payees24, self.payers24 = Distinct(DAY_S), Distinct(DAY_S)
        self.devices24, self.payers7d = Distinct(DAY_S), Distinct(WEEK_S)
        self.n, self.mean, self.m2, self.max_log = 0, 0.0, 0.0, 0.0
        self.first_ts, self.last_ts, self.last_out_ts = ts, ts, -1.0
        self.hours = [0] * 24
        self.devices: dict[str, int] = {}
        self.ips: dict[str, int] = {}
        self.payees: dict[str, int] = {}
        self.countries: dict[str, int] = {}
        self.currencies: dict[str, int] = {}


class Endpoint:
    """A device or an IP address: who used it, how often, since when."""

    __slots__ = ("first_ts", "last_ts", "payers7d", "payers24", "tl")

    def __init__(self, ts: float) -> None:
        self.tl = Timeline()
        self.payers24, self.payers7d = Distinct(DAY_S), Distinct(WEEK_S)
        self.first_ts, self.last_ts = ts, ts


@dataclass(frozen=True, slots=True)
class StateLimits:
    """Written limits on the state: entity counts and how long an idle entity is kept."""

    max_accounts: int = 1_000_000
    max_endpoints: int = 1_000_000
    account_idle_s: float = 180 * DAY_S
    endpoint_idle_s: float = 30 * DAY_S
    sweep_every: int = 65_536


class FeatureState:
    """All online state; `observe` is the one way in (features first, then the update)."""

    def __init__(self, limits: StateLimits | None = None) -> None:
        self.limits = limits or StateLimits()
        self.accounts: dict[str, Account] = {}
        self.devices: dict[str, Endpoint] = {}
        self.ips: dict[str, Endpoint] = {}
        self.now = float("-inf")
        self.seen = 0

    def observe(self, event: Event) -> list[float]:
        """The feature vector of EVENT from history only; then remember EVENT."""
        now = event.ts_s
        if now < self.now:  # a late event is placed at "now", never in the past
            now = self.now
        currency = event.currency
        amt = event.amount_minor * (CNY_PER_MINOR_CACHE.get(currency) or cny_per_minor(currency))
        accounts = self.accounts
        payer_id, payee_id = event.payer, event.payee
        payer = accounts.get(payer_id)
        payee = accounts.get(payee_id) if payee_id != payer_id else payer
        dev_id, ip_id = event.device_id, event.ip
        device = self.devices.get(dev_id) if dev_id else None
        ip = self.ips.get(ip_id) if ip_id else None
        log_amt = log1p(amt)
        x = _event_features(event, payer, log_amt)
        if payer is None:
            x += _NEW_PAYER_HEAD
            x += (
                0.0 if dev_id is None else 1.0,
                0.0 if ip_id is None else 1.0,
                1.0,
                0.0 if event.payee_country is None else 1.0,
                0.0,
                0.0,
            )
        else:
            x += _payer_features(event, payer, now, amt, log_amt)
        # endpoints: a device reads its 7-day payers, an IP does not
        if device is None:
            m = -1.0 if dev_id is None else 0.0
            x += (m, m, m, -1.0)
        else:
            x += (
                float(device.tl.count_1h(now)),
                float(device.payers24.count(now)),
                float(device.payers7d.count(now)),
                log1p(max(0.0, now - device.first_ts)),
            )
        if ip is None:
            m = -1.0 if ip_id is None else 0.0
            x += (m, m, -1.0)
        else:
            x += (float(ip.tl.count_1h(now)), float(ip.payers24.count(now)),
                  log1p(max(0.0, now - ip.first_ts)))  # fmt: skip
        if payee is None:
            x += _NO_PAYEE
        else:
            inflow = payee.inflow
            c10, c1h, _c24, _c7d, _s1h, in24, in7 = inflow.windows(now)
            x += (float(c10), float(c1h), float(payee.payers24.count(now)),
                  (now - payee.first_ts) / DAY_S, log1p(in24),
                  log1p(payee.n + len(inflow.ts) - inflow.head),
                  float(payee.payers7d.count(now)),
                  log1p(payee.out.sum_7d(now)) - log1p(in7))  # fmt: skip
        self._update(event, now, amt, log_amt, payer, payee, device, ip)
        return x

    def _update(
        self, ev: Event, now: float, amt: float, log_amt: float, payer: Account | None,
        payee: Account | None, device: Endpoint | None, ip: Endpoint | None,
    ) -> None:  # fmt: skip
        """Fold EV into the state; the entities found by `observe` are passed in, not re-read."""
        payer_id, payee_id = ev.payer, ev.payee
        if payer is None:
            payer = self.accounts[payer_id] = Account(now)
        payer.last_ts = payer.last_out_ts = now
        payer.out.add(now, amt)
        if amt < SMALL_AMOUNT_CNY:
            payer.small.add(now, 1.0)
        payer.payees24.observe(payee_id, now)
        n = payer.n = payer.n + 1
        delta = log_amt - payer.mean
        payer.mean += delta / n
        payer.m2 += delta * (log_amt - payer.mean)
        if log_amt > payer.max_log:
            payer.max_log = log_amt
        payer.hours[int(now // HOUR_S) % 24] += 1
        bump(payer.payees, payee_id, CAP_PAYEES)
        bump(payer.currencies, ev.currency, CAP_CURRENCIES)
        if ev.payee_country:
            bump(payer.countries, ev.payee_country, CAP_COUNTRIES)
        dev_id, ip_id = ev.device_id, ev.ip
        if dev_id:
            payer.devices24.observe(dev_id, now)
            bump(payer.devices, dev_id, CAP_DEVICES)
            if device is None:
                device = self.devices[dev_id] = Endpoint(now)
            device.tl.add(now, 1.0)
            device.payers24.observe(payer_id, now)
            device.payers7d.observe(payer_id, now)
            device.last_ts = now
        if ip_id:
            bump(payer.ips, ip_id, CAP_IPS)
            if ip is None:
                ip = self.ips[ip_id] = Endpoint(now)
            ip.tl.add(now, 1.0)
            ip.payers24.observe(payer_id, now)
            ip.last_ts = now
        if payee_id != payer_id or ev.type == "topup":
            if payee is None:
                payee = self.accounts[payee_id] = Account(now)
            payee.last_ts = now
            payee.inflow.add(now, amt)
            payee.payers24.observe(payer_id, now)
            payee.payers7d.observe(payer_id, now)
        self.now = now
        self.seen += 1
        if self.seen % self.limits.sweep_every == 0:
            self.sweep()

    def sweep(self) -> None:
        """Forget idle entities, then the least recently seen beyond the limits."""
        lim = self.limits
        self.accounts = _prune(self.accounts, self.now - lim.account_idle_s, lim.max_accounts)
        self.devices = _prune(self.devices, self.now - lim.endpoint_idle_s, lim.max_endpoints)
        self.ips = _prune(self.ips, self.now - lim.endpoint_idle_s, lim.max_endpoints)


def _prune(table: dict, cutoff: float, limit: int) -> dict:  # type: ignore[type-arg]
    kept = {k: v for k, v in table.items() if v.last_ts > cutoff}
    if len(kept) > limit:
        newest = sorted(kept.items(), key=lambda kv: kv[1].last_ts)[-limit:]
        kept = dict(newest)
    return kept


_NEW_PAYER_HEAD = (0.0,) * 9 + (-1.0, -1.0, 0.0, 0.0, 0.0, 0.0)
_NO_PAYEE = (0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0)


def _event_features(ev: Event, payer: Account | None, log_amt: float) -> list[float]:
    mcc = ev.mcc
    new_currency = 0.0
    if payer is not None and payer.n > 0:
        new_currency = 0.0 if ev.currency in payer.currencies else 1.0
    pc, qc = ev.payer_country, ev.payee_country
    return [
        log_amt,
        float(TYPE_CODE[ev.type]),
        float(CHANNEL_CODE.get(ev.channel or "", -1)),
        float(mcc) if mcc else -1.0,
        1.0 if mcc in RISKY_MCCS else 0.0,
        1.0 if pc and qc and pc != qc else 0.0,
        1.0 if qc in HIGH_RISK_COUNTRIES or pc in HIGH_RISK_COUNTRIES else 0.0,
        new_currency,
    ]


def _payer_features(
    ev: Event, acc: Account, now: float, amt: float, log_amt: float
) -> tuple[float, ...]:
    c10, c1h, c24, c7d, s1h, out24, _s7d = acc.out.windows(now)
    n = acc.n
    z, vs_max, habit = 0.0, 0.0, 0.0
    if n >= 3:
        std = max(MIN_STD_LOG, math.sqrt(acc.m2 / (n - 1)))
        z = (log_amt - acc.mean) / std
    if n >= 1:
        vs_max = log_amt - acc.max_log
        hour = int(now // HOUR_S) % 24
        hours = acc.hours
        habit = (hours[hour - 1] + hours[hour] + hours[(hour + 1) % 24]) / n
    in7 = acc.inflow.sum_7d(now)
    last_out = acc.last_out_ts
    dev, ip, country = ev.device_id, ev.ip, ev.payee_country
    return (
        float(c10), float(c1h), float(c24), float(c7d), log1p(s1h), log1p(out24),
        float(acc.small.count_1h(now)),
        float(acc.payees24.count(now)), float(acc.devices24.count(now)),
        log1p(now - last_out) if last_out >= 0 else -1.0,
        (now - acc.first_ts) / DAY_S,
        log1p(n), z, vs_max, habit,
        0.0 if dev is None or dev in acc.devices else 1.0,
        0.0 if ip is None or ip in acc.ips else 1.0,
        0.0 if ev.payee in acc.payees else 1.0,
        0.0 if country is None or country in acc.countries else 1.0,
        log1p(in7), log1p(out24 + amt) - log1p(in7),
    )  # fmt: skip
