"""Hosted pages the customer sees during a payment: the one-time code challenge (risk or the
issuer's 3-D Secure-style authentication), the page they return to from their bank, and the
QR code to scan. They are addressed by the payment intent's id, which is random and
unguessable (like a client secret); they show nothing a merchant's key would not.

The gateway comes from `request.app.state.gateway_factory` (set by the API app), so this
layer needs nothing from the API package.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from rongpay.money import format_money
from rongpay.payments.errors import PaymentError
from rongpay.payments.intents import Intent
from rongpay.payments.types import Caller
from rongpay.qr import image
from rongpay.web.pages import CSS

router = APIRouter(tags=["hosted checkout"], include_in_schema=False)
MAX_FORM_BYTES = 1024
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; img-src 'self'",
}


async def _gateway(request: Request) -> Any:
    return await request.app.state.gateway_factory(request)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · rongpay checkout</title><style>{CSS}"
        ".pay{max-width:420px;margin:48px auto}.amount{font-size:28px;margin:8px 0}"
        "input[name=code]{font-size:22px;letter-spacing:6px;width:10em;padding:6px}"
        "</style></head><body><main><section class=pay>"
        f"{body}</section></main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _summary(intent: Intent) -> str:
    amount = escape(format_money(intent.amount, intent.currency))
    mode = "" if intent.livemode else " <span class=flag>test mode</span>"
    return f"<p class=muted>Payment {escape(intent.id)}{mode}</p><p class=amount>{amount}</p>"


async def _intent(request: Request, intent_id: str) -> tuple[Any, Intent | None]:
    gw = await _gateway(request)
    try:
        return gw, gw.find(intent_id)
    except PaymentError:
        return gw, None


def _missing() -> HTMLResponse:
    return _page("Not found", "<h2>This payment does not exist.</h2>", 404)


@router.get("/checkout/challenge/{intent_id}")
async def challenge_form(request: Request, intent_id: str) -> Response:
    _, intent = await _intent(request, intent_id)
    if intent is None:
        return _missing()
    return _challenge_page(intent)


def _challenge_page(intent: Intent, error: str | None = None) -> HTMLResponse:
    action = (intent.next_action or {}).get("verify_with_code")
    if intent.status != "requires_action" or not action:
        return _status_page(intent)
    hint = ""
    if action.get("test_code"):
        hint = (f"<p class=muted>Sandbox: no SMS is sent; the code is "
                f"<code>{escape(action['test_code'])}</code>.</p>")  # fmt: skip
    err = f'<p class="err">{escape(error)}</p>' if error else ""
    body = (
        f"<h2>Confirm it is you</h2>{_summary(intent)}"
        "<p>We sent a 6-digit code to your phone.</p>"
        f"{hint}{err}<form method=post><input name=code inputmode=numeric autocomplete="
        "one-time-code maxlength=6 required autofocus> <button type=submit>Confirm</button></form>"
    )
    return _page("Confirm payment", body)


@router.post("/checkout/challenge/{intent_id}")
async def challenge_submit(request: Request, intent_id: str) -> Response:
    gw, intent = await _intent(request, intent_id)
    if intent is None:
        return _missing()
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM_BYTES:  # read no further: the form holds one short field
            return _page("Too large", "<h2>That form is too large.</h2>", 413)
    code = parse_qs(raw.decode("utf-8", "replace")).get("code", [""])[0].strip()
    caller = Caller(intent.merchant_id, intent.livemode)
    try:
        await gw.verify(caller, intent_id, {"code": code}, client=_client(request))
    except PaymentError as exc:
        _, now = await _intent(request, intent_id)
        return _challenge_page(now or intent, exc.message)
    _, now = await _intent(request, intent_id)
    return _status_page(now or intent)


def _client(request: Request) -> Any:
    from rongpay.payments.gateway import Client

    return Client(ip=request.client.host if request.client else None)


@router.get("/checkout/return/{intent_id}")
async def returned(request: Request, intent_id: str) -> Response:
    gw, intent = await _intent(request, intent_id)
    if intent is None:
        return _missing()
    return _status_page(await gw.returned(intent_id))


def _status_page(intent: Intent) -> HTMLResponse:
    messages = {
        "succeeded": "Payment succeeded. You can close this page.",
        "requires_capture": "Payment authorised. You can close this page.",
        "processing": "Waiting for your bank to confirm the transfer; this page does not need "
        "to stay open.",
        "canceled": "This payment was canceled.",
        "requires_payment_method": "The payment did not go through.",
    }  # fmt: skip
    text = messages.get(str(intent.status), f"Status: {intent.status}")
    error = (intent.last_payment_error or {}).get("message")
    failed = error and intent.status == "requires_payment_method"
    err = f'<p class="err">{escape(str(error))}</p>' if failed else ""
    back = ""
    if intent.return_url:  # the merchant's page, with the payment's id to look it up
        sep = "&" if "?" in intent.return_url else "?"
        link = f"{intent.return_url}{sep}payment_intent={intent.id}"
        back = f'<p><a href="{escape(link, quote=True)}">Back to the shop</a></p>'
    return _page("Payment", f"<h2>{escape(text)}</h2>{_summary(intent)}{err}{back}")


@router.get("/checkout/qr/{intent_id}.{kind}")
async def qr_image(request: Request, intent_id: str, kind: str) -> Response:
    _, intent = await _intent(request, intent_id)
    action = (intent.next_action or {}).get("display_qr_code") if intent else None
    if intent is None or not action or kind not in ("svg", "png"):
        return _missing()
    data = image.svg(action["data"]) if kind == "svg" else image.png(action["data"])
    media = "image/svg+xml" if kind == "svg" else "image/png"
    return Response(data, media_type=media, headers={"Cache-Control": "no-store"})
