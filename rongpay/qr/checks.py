"""The rules a decoded payload is held to, in two tiers.

Hard rules make a payload unusable for a payment, so decoding always refuses it: an unknown
currency, an amount that is not a decimal of that currency, a country that is not two
letters, no merchant account, an account template without its globally unique id.
Conformance rules are the rest of EMV QRCPS v1.1 (merchant category code, name and city
present, length limits, tip-indicator consistency). National schemes in production break
some of them (Thai PromptPay omits 52, 59 and 60; PIX payloads carry 16-character cities),
so `decode` reports them as warnings unless asked to be strict.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from rongpay.qr import amount, tags
from rongpay.qr.errors import QrErrorCode
from rongpay.qr.tlv import DataObject

COUNTRY = re.compile(r"^[A-Z]{2}$")
MCC = re.compile(r"^[0-9]{4}$")
NUMERIC3 = re.compile(r"^[0-9]{3}$")
TIP_INDICATORS = {
    "01": "prompt for tip",
    "02": "fixed convenience fee",
    "03": "percentage convenience fee",
}
# Conformance length limits (characters) from the v1.1 data object tables.
MAX_CHARS: dict[tuple[str, ...], int] = {
    ("59",): 25,
    ("60",): 15,
    ("61",): 10,
    ("57",): 5,
    ("64", "00"): 2,
    ("64", "01"): 25,
    ("64", "02"): 15,
}
MAX_GUI = 32
MAX_ADDITIONAL = 25  # each 62 sub-tag 01-49


@dataclass(frozen=True, slots=True)
class Issue:
    """One broken rule: its code, the data object ("54", "62.05"), and what is wrong."""

    code: QrErrorCode
    tag: str
    message: str


def _index(objects: tuple[DataObject, ...]) -> dict[str, DataObject]:
    return {o.tag: o for o in objects}


def _bad(tag: str, message: str) -> Issue:
    return Issue(QrErrorCode.INVALID_VALUE, tag, f"tag {tag} ({tags.top_name(tag[:2])}): {message}")


def hard(objects: tuple[DataObject, ...]) -> Iterator[Issue]:
    """Rules whose breach makes the payload unusable, in a fixed order."""
    by = _index(objects)
    yield from _values(by)
    for o in objects:
        if 26 <= int(o.tag) <= 51 and o.child(tags.GUI) is None:
            yield Issue(
                QrErrorCode.MISSING_TAG,
                f"{o.tag}.00",
                f"merchant account template {o.tag} has no globally unique id (sub-tag 00)",
            )
    for tag in (tags.CURRENCY, tags.COUNTRY):
        if tag not in by:
            yield _missing(tag)
    if not any(tags.is_account(o.tag) for o in objects):
        yield Issue(
            QrErrorCode.MISSING_TAG,
            "02-51",
            "no merchant account information (tags 02-51): nobody to pay",
        )


def _missing(tag: str) -> Issue:
    return Issue(
        QrErrorCode.MISSING_TAG, tag, f"mandatory tag {tag} ({tags.top_name(tag)}) is missing"
    )


def _values(by: dict[str, DataObject]) -> Iterator[Issue]:
    if (o := by.get(tags.INITIATION)) and o.value not in (tags.STATIC, tags.DYNAMIC):
        yield _bad(o.tag, f"{o.value!r} is neither 11 (static) nor 12 (dynamic)")
    if (o := by.get(tags.MCC)) and not MCC.match(o.value):
        yield _bad(o.tag, f"{o.value!r} is not a 4-digit merchant category code")
    cur = None
    if o := by.get(tags.CURRENCY):
        cur = amount.by_number(o.value) if NUMERIC3.match(o.value) else None
        if cur is None:
            yield _bad(o.tag, f"{o.value!r} is not an ISO 4217 numeric currency code")
    for tag in (tags.AMOUNT, tags.FEE_FIXED, tags.FEE_PERCENT):
        if (o := by.get(tag)) and not amount.is_decimal(o.value):
            yield _bad(tag, f"{o.value!r} is not a decimal amount such as 12.34")
        elif o and cur is not None and tag != tags.FEE_PERCENT:
            places = len(o.value.partition(".")[2])
            if places > cur.exponent:
                yield _bad(
                    tag, f"{cur.code} has {cur.exponent} decimal place(s); {o.value} has {places}"
                )
    if (o := by.get(tags.TIP)) and o.value not in TIP_INDICATORS:
        yield _bad(o.tag, f"{o.value!r} is not 01 (tip), 02 (fixed fee) or 03 (percentage fee)")
    if (o := by.get(tags.COUNTRY)) and not COUNTRY.match(o.value):
        yield _bad(o.tag, f"{o.value!r} is not an ISO 3166 alpha-2 country code (2 capitals)")


def conformance(objects: tuple[DataObject, ...]) -> Iterator[Issue]:
    """EMV QRCPS v1.1 rules real payloads sometimes break (warnings unless strict)."""
    by = _index(objects)
    for tag in (tags.MCC, tags.NAME, tags.CITY):
        if tag not in by:
            yield _missing(tag)
    yield from _lengths(objects)
    yield from _tip(by)
    if (lang := by.get(tags.LANGUAGE)) is not None:
        for sub in ("00", "01"):
            if lang.child(sub) is None:
                yield Issue(
                    QrErrorCode.MISSING_TAG,
                    f"64.{sub}",
                    f"the language template needs sub-tag {sub} ({tags.sub_name('64', sub)})",
                )
    extra = by.get(tags.ADDITIONAL)
    req = extra.child("09") if extra is not None else None
    if req is not None and not set(req.value) <= set("AME"):
        yield _bad("62.09", f"{req.value!r}: the consumer data request uses only A, M, E")
    for o in objects:
        if 80 <= int(o.tag) <= 99 and o.child(tags.GUI) is None:
            yield Issue(
                QrErrorCode.MISSING_TAG,
                f"{o.tag}.00",
                f"template {o.tag} has no globally unique id (sub-tag 00)",
            )


def _lengths(objects: tuple[DataObject, ...]) -> Iterator[Issue]:
    for o in objects:
        yield from _too_long((o.tag,), o.value)
        for c in o.children or ():
            yield from _too_long((o.tag, c.tag), c.value)


def _too_long(path: tuple[str, ...], value: str) -> Iterator[Issue]:
    limit = MAX_CHARS.get(path)
    if len(path) == 2 and path[1] == tags.GUI and tags.kind(path[:1]) == tags.Kind.TEMPLATE:
        limit = MAX_GUI if path[0] not in (tags.ADDITIONAL, tags.LANGUAGE) else limit
    if len(path) == 2 and path[0] == tags.ADDITIONAL and int(path[1]) < 50:
        limit = MAX_ADDITIONAL
    if limit is not None and len(value) > limit:
        where = ".".join(path)
        yield _bad(where, f"{len(value)} characters; at most {limit} allowed")


def _tip(by: dict[str, DataObject]) -> Iterator[Issue]:
    tip = by.get(tags.TIP)
    wanted = {"02": tags.FEE_FIXED, "03": tags.FEE_PERCENT}
    if tip is not None and tip.value in wanted and wanted[tip.value] not in by:
        yield _missing(wanted[tip.value])
    for tag in (tags.FEE_FIXED, tags.FEE_PERCENT):
        if tag in by and (tip is None or wanted.get(tip.value) != tag):
            yield _bad(tag, "present without the tip indicator (55) that calls for it")
