"""The SANDBOX bank's pages: where the customer approves or declines a bank transfer.

Plain server-rendered HTML, no JavaScript, every value escaped. It looks like a bank's
payment confirmation page and says plainly that it is a simulation.
"""

from __future__ import annotations

from html import escape

from rongpay.money import format_money
from rongpay.sim.bank_orders import FailureCode, Order, OrderStatus

BANK_NAME = "Sandbox Bank"

CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#eef2f6;
color:#102a43}header{background:#0b3d2e;color:#fff;padding:14px 28px;display:flex;gap:16px;
align-items:baseline}header h1{margin:0;font-size:20px;letter-spacing:.5px}
header span{color:#9fe2bf;font-size:13px}main{max-width:480px;margin:32px auto;background:#fff;
border:1px solid #d9e2ec;border-radius:8px;padding:24px 28px}
.amount{font-size:30px;font-weight:600;margin:4px 0 16px;font-variant-numeric:tabular-nums}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0 0 20px}
dt{color:#627d98}dd{margin:0;word-break:break-all}label{display:block;margin:12px 0 4px}
select{width:100%;padding:6px}.buttons{display:flex;gap:12px;margin-top:20px}
button{flex:1;padding:10px;font-size:15px;border-radius:6px;border:1px solid #0b3d2e;
cursor:pointer}button.approve{background:#0b3d2e;color:#fff}button.decline{background:#fff;
color:#9b1c1c;border-color:#9b1c1c}.note{font-size:12px;color:#829ab1;margin-top:20px}
.ok{color:#0b7a4b}.bad{color:#9b1c1c}
"""

FAILURE_LABELS = {
    FailureCode.DECLINED_BY_CUSTOMER: "I do not want to pay",
    FailureCode.INSUFFICIENT_FUNDS: "Insufficient funds",
    FailureCode.ACCOUNT_CLOSED: "Account closed",
}


def page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · {BANK_NAME}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{BANK_NAME}</h1><span>Online banking · simulation for test mode, "
        "no real money moves</span></header>"
        f"<main>{body}<p class=note>{BANK_NAME} is rongpay's simulated bank. Orders are kept "
        "in memory and are lost when it stops.</p></main></body></html>"
    )


def _details(order: Order) -> str:
    r = order.request
    rows = [("Merchant reference", r.reference), ("Order", order.id)]
    if r.description:
        rows.insert(0, ("Description", r.description))
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    amount = escape(format_money(r.amount_minor, r.currency))
    return f"<p>Amount to pay</p><p class=amount id=amount>{amount}</p><dl>{cells}</dl>"


def pay_page(order: Order) -> str:
    """The confirmation form, or the outcome when the order was already decided."""
    if order.status is not OrderStatus.PENDING:
        return decided_page(order, refused=False)
    options = "".join(
        f'<option value="{escape(code)}">{escape(label)}</option>'
        for code, label in FAILURE_LABELS.items()
    )
    form = (
        f'<form method="post" action="/pay/{escape(order.id)}">'
        "<label for=failure_code>If you decline, the reason</label>"
        f'<select id=failure_code name="failure_code">{options}</select>'
        '<div class=buttons><button class=approve type=submit name="decision" value="approve">'
        'Approve</button><button class=decline type=submit name="decision" value="decline">'
        "Decline</button></div></form>"
    )
    return page("Confirm payment", f"<h2>Confirm this payment</h2>{_details(order)}{form}")


def decided_page(order: Order, *, refused: bool) -> str:
    """The outcome; REFUSED when the customer tried to decide a second time."""
    if order.status is OrderStatus.SUCCEEDED:
        outcome = "<p class=ok>This payment was approved.</p>"
    else:
        reason = escape(str(order.failure_code or FailureCode.DECLINED_BY_CUSTOMER))
        outcome = f"<p class=bad>This payment was declined ({reason}).</p>"
    lead = (
        "<p class=bad>Already decided: a payment can be decided only once.</p>" if refused else ""
    )
    back = f'<p><a href="{escape(order.request.return_url)}">Back to the merchant</a></p>'
    return page("Payment decided", f"<h2>Payment</h2>{lead}{_details(order)}{outcome}{back}")


def message_page(title: str, message: str) -> str:
    """A page for an unknown order or a bad form."""
    return page(title, f"<h2>{escape(title)}</h2><p>{escape(message)}</p>")
