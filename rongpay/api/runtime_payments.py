"""The gateway of a running app: built once per app on first use, with the card vault, the
connection to the card issuer ($RONGPAY_ISSUER, host:port, default 127.0.0.1:8583: the
sandbox issuer that `rongpay demo` starts), the bank ($RONGPAY_BANK_URL and
$RONGPAY_BANK_SECRET; bank transfers are refused without them) and the public base URL
for hosted pages ($RONGPAY_BASE_URL, else the URL the first request came to)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from typing import Any

from starlette.requests import Request

from rongpay.api.deps import runtime
from rongpay.api.errors import ApiError
from rongpay.payments.card_recovery import CardAdvices
from rongpay.payments.channels.bank import BankChannel
from rongpay.payments.channels.card import CardNetwork, Chargeback
from rongpay.payments.gateway import Gateway
from rongpay.security.vault import Vault, VaultError

log = logging.getLogger("rongpay.api")
ISSUER_ENV = "RONGPAY_ISSUER"
BASE_URL_ENV = "RONGPAY_BASE_URL"
DEFAULT_ISSUER = "127.0.0.1:8583"
BANK_URL_ENV = "RONGPAY_BANK_URL"  # the (sandbox) bank, e.g. http://127.0.0.1:8100
BANK_SECRET_ENV = "RONGPAY_BANK_SECRET"  # our credentials there; it signs callbacks with it


def issuer_address() -> tuple[str, int]:
    text = os.environ.get(ISSUER_ENV, DEFAULT_ISSUER)
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{ISSUER_ENV} must be host:port, not {text!r}")
    return host, int(port)


async def build(request: Request) -> Gateway:
    base = os.environ.get(BASE_URL_ENV) or str(request.base_url).rstrip("/")
    return await _build(runtime(request), base)


async def _build(rt: Any, base: str) -> Gateway:
    try:
        vault = Vault.from_env(db_url=rt.url)
    except VaultError as exc:
        raise ApiError(503, "vault_unavailable", f"The card vault cannot start: {exc}",
                       type_="api_error") from None  # fmt: skip
    host, port = issuer_address()
    holder: list[Gateway] = []

    async def on_chargeback(notice: Chargeback) -> None:
        await holder[0].on_chargeback(notice)

    engine = rt.engine()
    card = CardNetwork(host, port, on_chargeback=on_chargeback,
                       advices=CardAdvices(engine, vault))  # fmt: skip
    bank = None
    bank_url = os.environ.get(BANK_URL_ENV)
    if bank_url:
        bank = BankChannel(bank_url, os.environ.get(BANK_SECRET_ENV, ""))
    gateway = Gateway(engine, vault=vault, card=card, bank=bank, base_url=base)
    holder.append(gateway)
    await card.start()
    return gateway


async def warm(app: Any) -> None:
    """At start-up: build the gateway (risk model, rules, lists, sanctions list) before the
    first payment, then freeze what start-up allocated out of the garbage collector's reach:
    full collections otherwise walk those objects again and again, pausing every request
    (100-180 ms p99 spikes measured by `rongpay bench payments`)."""
    rt = app.state.runtime
    try:
        rt.engine()
    except ApiError:
        return  # the database is down: the gateway is built on the first request instead
    # without $RONGPAY_BASE_URL the first request's own URL becomes the base (gateway_of)
    gw = app.state.gateway = await _build(rt, os.environ.get(BASE_URL_ENV, ""))
    await asyncio.to_thread(gw.warm)
    gc.collect()
    gc.freeze()
    # A request allocates thousands of short-lived objects; collecting the youngest
    # generation every 700 allocations (the default) costs more than it frees here.
    gc.set_threshold(20_000, 20, 20)


async def gateway_of(request: Request) -> Gateway:
    state = request.app.state
    gw: Gateway | None = getattr(state, "gateway", None)
    if gw is None:
        lock = state.__dict__.setdefault("gateway_lock", asyncio.Lock())  # per app and loop
        async with lock:
            gw = getattr(state, "gateway", None)
            if gw is None:
                gw = state.gateway = await build(request)
    if not gw.base_url:
        gw.base_url = str(request.base_url).rstrip("/")
    return gw


SWEEP_INTERVAL_S = 15.0


async def sweep_forever(state: object) -> None:
    """Background upkeep: cancel authorisations nobody captured in time, reverse and fail card
    attempts a crash cut short (their idempotency keys get the failure as their answer), send
    stored reversal advices. Runs only once the gateway exists (a first payment request or
    start-up built it)."""
    from rongpay.api.payments import respond_intent  # the answer a merchant's retry replays
    from rongpay.payments.upkeep import recover_stuck

    while True:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        gw: Gateway | None = getattr(state, "gateway", None)
        if gw is None:
            continue
        try:
            await asyncio.to_thread(gw.expire_due)
            await recover_stuck(gw, respond=respond_intent)
            await gw.reconcile_bank()
            if gw.card is not None:
                await gw.card.flush_advices()
        except Exception:  # a database that is down: try again next time
            log.warning(
                "payment upkeep failed; retrying in %.0f s", SWEEP_INTERVAL_S, exc_info=True
            )


async def close(state: object) -> None:
    gw: Gateway | None = getattr(state, "gateway", None)
    if gw is not None and gw.card is not None:
        await gw.card.close()
    if gw is not None and gw.bank is not None:
        await gw.bank.close()
