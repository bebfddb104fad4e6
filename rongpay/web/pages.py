"""Server-rendered HTML for the back office: no build step, no CDN, every value escaped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html import escape
from typing import Any

from rongpay.ledger.service import Overview
from rongpay.ledger.types import ACCOUNT_FLAG_BITS, TRANSFER_FLAG_BITS, flag_names
from rongpay.money import format_money

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}
header{background:#14213d;color:#fff;padding:12px 24px;display:flex;align-items:center;gap:24px}
header a{color:#fca311;text-decoration:none}header h1{font-size:18px;margin:0;flex:1}
main{padding:16px 24px;max-width:1400px}section{background:#fff;border:1px solid #e3e6eb;
overflow-x:auto;
border-radius:6px;padding:12px 16px;margin-bottom:16px}h2{font-size:15px;margin:4px 0 10px}
table{border-collapse:collapse;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #eef0f3;
text-align:left;white-space:nowrap}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#6b7280}.flag{background:#eef2ff;border-radius:3px;padding:0 4px;margin-right:2px;
font-size:12px}form.inline{display:inline}button{cursor:pointer}
.login{max-width:360px;margin:80px auto}
input[type=password]{display:block;box-sizing:border-box;width:100%;padding:6px;margin:8px 0}
.err{color:#b91c1c}code{background:#f1f3f5;padding:0 3px;border-radius:3px}
"""


def page(title: str, body: str, *, signed_in: bool = False) -> str:
    logout = (
        '<form class="inline" method="post" action="/logout"><button>Sign out</button></form>'
        if signed_in
        else ""
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · rongpay</title><style>{CSS}</style></head><body>"
        '<header><h1>rongpay back office</h1><a href="/">Ledger</a>'
        '<a href="/payments">Payments</a>'
        f'<a href="/docs">API docs</a><a href="/openapi.json">openapi.json</a>{logout}</header>'
        f"<main>{body}</main></body></html>"
    )


def login(error: str | None = None) -> str:
    err = f'<p class="err">{escape(error)}</p>' if error else ""
    body = (
        '<section class="login"><h2>Sign in</h2>'
        "<p class=muted>Use the admin key (<code>RONGPAY_ADMIN_KEY</code>, or the one "
        "<code>rongpay demo</code> printed).</p>"
        f'{err}<form method="post" action="/login">'
        '<label>Admin key<input type="password" name="key" autocomplete="current-password" '
        'autofocus required></label><button type="submit">Sign in</button></form></section>'
    )
    return page("Sign in", body)


def _time(ns: int) -> str:
    when = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _flags(names: Iterable[str]) -> str:
    return "".join(f'<span class="flag">{escape(n)}</span>' for n in names)


def _money(minor: int, ledger: str) -> str:
    return escape(format_money(minor, ledger))


def volume_chart(ov: Overview) -> str:
    """Horizontal bars: transfers per ledger, labelled with the posted volume."""
    if not ov.volumes:
        return "<p class=muted>No transfers yet.</p>"
    top = max(v.transfers for v in ov.volumes) or 1
    row_h, width = 26, 420
    bars = []
    for i, v in enumerate(ov.volumes):
        y = i * row_h
        w = max(2, round(width * v.transfers / top)) if v.transfers else 0
        label = f"{v.transfers} transfers · {format_money(v.posted_minor, v.ledger)} posted"
        bars.append(
            f'<text x="0" y="{y + 17}" font-size="13">{escape(v.ledger)}</text>'
            f'<rect x="48" y="{y + 4}" width="{w}" height="18" fill="#fca311" rx="2">'
            f"<title>{escape(label)}</title></rect>"
            f'<text x="{56 + w}" y="{y + 17}" font-size="12" fill="#555">{escape(label)}</text>'
        )
    height = row_h * len(ov.volumes)
    return (
        f'<svg role="img" aria-label="transfer volume per ledger" width="100%" height="{height}" '
        f'viewBox="0 0 900 {height}" xmlns="http://www.w3.org/2000/svg">{"".join(bars)}</svg>'
    )


def _account_rows(ov: Overview) -> str:
    rows = []
    for a in ov.accounts:
        net = a.credits_posted - a.debits_posted
        rows.append(
            f"<tr><td>{escape(a.id)}</td>"
            f"<td>{escape(a.code)}</td><td>{escape(a.ledger)}</td>"
            f"<td>{escape(a.owner or '')}</td>"
            f"<td>{_flags(flag_names(a.flags, ACCOUNT_FLAG_BITS))}</td>"
            f'<td class="n">{_money(a.debits_posted, a.ledger)}</td>'
            f'<td class="n">{_money(a.credits_posted, a.ledger)}</td>'
            f'<td class="n">{_money(net, a.ledger)}</td>'
            f'<td class="n muted">{_money(a.debits_pending, a.ledger)} / '
            f"{_money(a.credits_pending, a.ledger)}</td></tr>"
        )
    return "".join(rows)


def _transfer_rows(ov: Overview) -> str:
    rows = []
    for t in ov.transfers:
        ledger = t.ledger or ""
        rows.append(
            f'<tr><td class="muted">{_time(t.timestamp)}</td>'
            f"<td>{escape(t.id)}</td>"
            f"<td>{escape(t.debit_account_id or '')} → {escape(t.credit_account_id or '')}</td>"
            f'<td class="n">{_money(t.amount, ledger)}</td><td>{escape(t.code or "")}</td>'
            f"<td>{_flags(flag_names(t.flags, TRANSFER_FLAG_BITS))}</td>"
            f"<td class=muted>{escape(t.user_data or '')}</td></tr>"
        )
    return "".join(rows)


def dashboard(ov: Overview) -> str:
    shown = len(ov.accounts)
    more = f" (first {shown} of {ov.account_total})" if ov.account_total > shown else ""
    body = (
        f"<section><h2>Transfer volume per ledger</h2>{volume_chart(ov)}</section>"
        f"<section><h2>Accounts{more}</h2><table><thead><tr><th>id</th><th>code</th>"
        "<th>ledger</th><th>owner</th><th>flags</th><th class=n>debits posted</th>"
        "<th class=n>credits posted</th><th class=n>net (credits − debits)</th>"
        "<th class=n>pending dr / cr</th></tr></thead>"
        f"<tbody>{_account_rows(ov) or '<tr><td colspan=9 class=muted>No accounts yet.</td></tr>'}"
        "</tbody></table></section>"
        "<section><h2>Latest transfers</h2><table><thead><tr><th>time (UTC)</th><th>id</th>"
        "<th>debit → credit</th><th class=n>amount</th><th>code</th><th>flags</th>"
        "<th>user data</th></tr></thead>"
        f"<tbody>{_transfer_rows(ov) or '<tr><td colspan=7 class=muted>None yet.</td></tr>'}"
        "</tbody></table></section>"
    )
    return page("Ledger", body, signed_in=True)


def _schema_name(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    ref = schema.get("$ref")
    if ref:
        return str(ref).rsplit("/", 1)[-1]
    return str(schema.get("type", ""))


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    params = ", ".join(f"<code>{escape(p['name'])}</code> ({escape(p['in'])})"
                       for p in op.get("parameters", []))  # fmt: skip
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    body_name = _schema_name(body.get("schema"))
    responses = "".join(
        f"<li><code>{escape(str(status))}</code> {escape(str(r.get('description', '')))}</li>"
        for status, r in op.get("responses", {}).items()
    )
    doc = op.get("description") or ""
    return (
        f"<section><h2><code>{escape(method.upper())} {escape(path)}</code> · "
        f"{escape(op.get('summary', ''))}</h2>"
        + (f"<p>{escape(doc)}</p>" if doc else "")
        + (f"<p><b>Parameters:</b> {params}</p>" if params else "")
        + (f"<p><b>Body:</b> <code>{escape(body_name)}</code></p>" if body_name else "")
        + f"<p><b>Responses:</b></p><ul>{responses}</ul></section>"
    )


def api_reference(spec: dict[str, Any]) -> str:
    """A readable rendering of /openapi.json (Swagger UI would need a CDN)."""
    ops = [
        _operation(path, method, op)
        for path, item in spec.get("paths", {}).items()
        for method, op in item.items()
    ]
    intro = (
        "<section><h2>HTTP API</h2><p>The machine-readable description is "
        '<a href="/openapi.json">/openapi.json</a>; the full reference, with every field and '
        "error code, is <code>docs/reference/http-api.md</code>. Every error has the shape "
        '<code>{"error": {"type", "code", "message", "param"}}</code>. <code>/v1</code> routes '
        "need <code>Authorization: Bearer &lt;admin key&gt;</code>.</p></section>"
    )
    return page("API docs", intro + "".join(ops))
