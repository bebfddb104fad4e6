"""The back office's payments page: totals by status (chart), payments held by screening,
open disputes, the latest payment intents. Server-rendered, every value escaped."""

from __future__ import annotations

import datetime as dt
from html import escape

from rongpay.money import format_money
from rongpay.payments.overview import PaymentsOverview, Totals
from rongpay.web.pages import page

COLOURS = {"succeeded": "#2a9d8f", "requires_capture": "#8ab17d", "processing": "#e9c46a",
           "requires_action": "#f4a261", "canceled": "#9ca3af",
           "requires_payment_method": "#e76f51", "requires_confirmation": "#a3a3a3"}  # fmt: skip


def _when(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _money(minor: int, currency: str) -> str:
    return escape(format_money(minor, currency))


def status_chart(totals: list[Totals]) -> str:
    if not totals:
        return "<p class=muted>No payments yet.</p>"
    top = max(x.count for x in totals) or 1
    row_h, width = 24, 380
    bars = []
    for i, x in enumerate(totals):
        y = i * row_h
        w = max(2, round(width * x.count / top))
        label = f"{x.count} · {format_money(x.amount_minor, x.currency)}"
        colour = COLOURS.get(x.status, "#fca311")
        bars.append(
            f'<text x="0" y="{y + 16}" font-size="12">{escape(x.currency)} '
            f"{escape(x.status)}</text>"
            f'<rect x="230" y="{y + 4}" width="{w}" height="16" fill="{colour}" rx="2">'
            f"<title>{escape(label)}</title></rect>"
            f'<text x="{238 + w}" y="{y + 16}" font-size="12" fill="#555">{escape(label)}</text>'
        )
    height = row_h * len(totals)
    return (f'<svg role="img" aria-label="payments by status" width="100%" height="{height}" '
            f'viewBox="0 0 900 {height}" xmlns="http://www.w3.org/2000/svg">'
            f'{"".join(bars)}</svg>')  # fmt: skip


def payments(ov: PaymentsOverview) -> str:
    rows = []
    for i in ov.latest:
        pm = (i.payment_method or {}).get("type", "")
        err = (
            (i.last_payment_error or {}).get("decline_code")
            or (i.last_payment_error or {}).get("code")
            or ""
        )
        rows.append(
            f'<tr><td class=muted>{_when(i.created)}</td><td>{escape(i.id)}</td>'
            f"<td>{escape(ov.merchants.get(i.merchant_id, i.merchant_id))}</td>"
            f"<td>{escape(str(pm))}</td><td>{escape(str(i.status))}</td>"
            f'<td class=n>{_money(i.amount, i.currency)}</td>'
            f'<td class=n>{_money(i.fee or 0, i.currency)}</td>'
            f'<td class=n>{_money(i.amount_refunded, i.currency)}</td>'
            f"<td>{escape(str(err))}</td>"
            f'<td>{escape(str((i.risk or {}).get("decision", "")))}</td></tr>'
        )  # fmt: skip
    held = (
        "".join(
            f"<tr><td>{escape(i.id)}</td><td>{_money(i.amount, i.currency)}</td>"
            f"<td>{escape(str(((i.risk or {}).get('screening') or {}).get('name', '')))}</td></tr>"
            for i in ov.held
        )
        or "<tr><td colspan=3 class=muted>None.</td></tr>"
    )
    disputes = (
        "".join(
            f"<tr><td>{escape(d['id'])}</td><td>{escape(d['intent_id'])}</td>"
            f"<td>{_money(d['amount'], d['currency'])}</td><td>{escape(d['status'])}</td>"
            f"<td>{escape(d['reason'])}</td><td class=muted>{_when(d['evidence_due_by'])}</td></tr>"
            for d in ov.open_disputes
        )
        or "<tr><td colspan=6 class=muted>None.</td></tr>"
    )
    body = (
        f"<section><h2>Payments by status (test mode)</h2>{status_chart(ov.totals)}</section>"
        "<section><h2>Held by sanctions screening</h2><p class=muted>Release with "
        "<code>POST /v1/payment_intents/{id}/release</code>; the case is in "
        "<code>rongpay cases list</code>.</p><table><thead><tr><th>payment</th><th>amount</th>"
        f"<th>payer</th></tr></thead><tbody>{held}</tbody></table></section>"
        "<section><h2>Open disputes</h2><table><thead><tr><th>dispute</th><th>payment</th>"
        "<th>amount</th><th>status</th><th>reason</th><th>evidence due (UTC)</th></tr></thead>"
        f"<tbody>{disputes}</tbody></table></section>"
        "<section><h2>Latest payments</h2><table><thead><tr><th>created (UTC)</th><th>id</th>"
        "<th>merchant</th><th>method</th><th>status</th><th class=n>amount</th>"
        "<th class=n>fee</th><th class=n>refunded</th><th>decline</th><th>risk</th></tr>"
        f"</thead><tbody>{''.join(rows) or '<tr><td colspan=10 class=muted>None yet.</td></tr>'}"
        "</tbody></table></section>"
    )
    return page("Payments", body, signed_in=True)
