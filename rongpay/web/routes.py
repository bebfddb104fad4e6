"""Back-office routes: the ledger overview at `/`, sign-in and sign-out, `/docs`.

Thin, like the API: check the session, call one query, render HTML.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from rongpay.ledger import service
from rongpay.payments.overview import overview
from rongpay.web import auth, pages, payments_page

router = APIRouter(tags=["back office"])

MAX_FORM_BYTES = 4096


def _runtime(request: Request) -> Any:
    return request.app.state.runtime


def _html(text: str, status: int = 200) -> HTMLResponse:
    headers = {
        "Cache-Control": "no-store",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'",
    }
    return HTMLResponse(text, status_code=status, headers=headers)


@router.get("/", response_class=HTMLResponse, summary="Back office: ledger overview")
def home(request: Request) -> Response:
    rt = _runtime(request)
    if not auth.signed_in(request, rt.admin_key):
        return RedirectResponse("/login", status_code=303)
    return _html(pages.dashboard(service.overview(rt.engine())))


@router.get("/payments", response_class=HTMLResponse, summary="Back office: payments")
def payments(request: Request) -> Response:
    rt = _runtime(request)
    if not auth.signed_in(request, rt.admin_key):
        return RedirectResponse("/login", status_code=303)
    return _html(payments_page.payments(overview(rt.engine())))


@router.get("/login", response_class=HTMLResponse, summary="Back office: sign-in form")
def login_form(request: Request) -> Response:
    if auth.signed_in(request, _runtime(request).admin_key):
        return RedirectResponse("/", status_code=303)
    return _html(pages.login())


@router.post("/login", response_class=HTMLResponse, summary="Back office: sign in")
async def login(request: Request) -> Response:
    """Form field `key`; on success an HttpOnly session cookie and a redirect to `/`."""
    body = await request.body()
    form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    given = (form.get("key") or [""])[0].strip()
    rt = _runtime(request)
    if not given or not auth.key_matches(given, rt.admin_key):
        return _html(pages.login("That is not the admin key."), status=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        auth.COOKIE, auth.session_token(rt.admin_key), httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/", max_age=12 * 3600,
    )  # fmt: skip
    return response


@router.post("/logout", summary="Back office: sign out")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/")
    return response


@router.get("/docs", response_class=HTMLResponse, summary="The HTTP API, readable")
def docs(request: Request) -> Response:
    return _html(pages.api_reference(request.app.openapi()))
