"""Who is calling: a merchant's secret key (one mode: `sk_test_...` or `sk_live_...`) or the
operator's admin key.

Publishable keys (`pk_...`) identify a merchant in a browser (hosted checkout) and cannot
call the API: they get 401 `secret_key_required`. Merchant keys are looked up by hash
through a short-lived cache (payments.keys).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request

from rongpay.api.deps import checks_key, get_engine, require_admin, runtime
from rongpay.api.errors import AUTHENTICATION, ApiError
from rongpay.payments import keys
from rongpay.payments.types import Caller
from rongpay.web.auth import key_matches, presented_key

_REALM = {"WWW-Authenticate": 'Bearer realm="rongpay"'}


def _unauthorised(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, type_=AUTHENTICATION, headers=_REALM)


async def _caller(request: Request, *, admin_ok: bool) -> Caller:
    given = presented_key(request.headers.get("authorization"))
    if given is None:
        raise _unauthorised(
            "authentication_required",
            "Send your secret key as `Authorization: Bearer sk_test_...`.",
        )
    if admin_ok and key_matches(given, runtime(request).admin_key):
        return Caller("", livemode=admin_livemode(request), is_admin=True)
    if given.startswith(("sk_test_", "sk_live_", "pk_test_", "pk_live_")):
        engine = get_engine(request)
        cache = keys.cache_for(engine)
        hit = cache.cached(given)  # the usual case: no database, no thread hop
        if hit is None:
            found = await asyncio.to_thread(cache.lookup, engine, given)
        else:
            found = None if hit[0] is None else (hit[0], hit[1])
        if found is not None:
            caller, kind = found
            if kind != "secret":
                raise _unauthorised(
                    "secret_key_required",
                    "Publishable keys (pk_...) only identify you in a browser; "
                    "call the API with your secret key.",
                )
            return caller
    raise _unauthorised("invalid_api_key", "The API key given is not valid.")


def admin_livemode(request: Request) -> bool:
    """The mode an operator's request acts in: test unless `Rongpay-Mode: live`."""
    return request.headers.get("rongpay-mode", "test").strip().lower() == "live"


@checks_key
async def require_merchant(request: Request) -> Caller:
    """A merchant's secret key; the operator acting for a merchant is not a merchant."""
    return await _caller(request, admin_ok=False)


@checks_key
async def require_caller(request: Request) -> Caller:
    """A merchant's secret key or the admin key (the admin acts in test mode unless the
    `Rongpay-Mode: live` header says otherwise)."""
    return await _caller(request, admin_ok=True)


MerchantDep = Annotated[Caller, Depends(require_merchant)]
CallerDep = Annotated[Caller, Depends(require_caller)]
AdminDep = Depends(require_admin)
