"""A decoded payload as plain data (API and `--json`) and as aligned text lines (the CLI).

Both faces use this one rendering, so they never disagree. `amount` is in minor units, as
every rongpay amount; `amount_text` is tag 54 as the payload writes it.
"""

from __future__ import annotations

from typing import Any

from rongpay.qr import emv, tags
from rongpay.qr.emv import Decoded
from rongpay.qr.tlv import DataObject


def as_dict(d: Decoded) -> dict[str, Any]:
    cur = d.currency
    return {
        "object": "qr_payload",
        "payload": d.payload,
        "crc": d.crc,
        "crc_valid": d.crc_valid,
        "point_of_initiation": d.point_of_initiation,
        "merchant_name": d.value(tags.NAME),
        "merchant_city": d.value(tags.CITY),
        "country": d.value(tags.COUNTRY),
        "postal_code": d.value(tags.POSTAL_CODE),
        "mcc": d.value(tags.MCC),
        "currency": cur.code if cur else None,
        "currency_numeric": d.value(tags.CURRENCY),
        "amount": emv.amount_minor(d),
        "amount_text": d.value(tags.AMOUNT),
        "accounts": [_account(o) for o in d.accounts],
        "tags": tag_list(d.objects),
        "warnings": [{"code": str(w.code), "tag": w.tag, "message": w.message} for w in d.warnings],
    }


def _account(o: DataObject) -> dict[str, Any]:
    gui = o.child(tags.GUI)
    return {"tag": o.tag, "gui": gui.value if gui else None, "value": o.value}


def tag_list(objects: tuple[DataObject, ...], path: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    out = []
    for o in objects:
        here = (*path, o.tag)
        item: dict[str, Any] = {
            "id": o.tag,
            "name": tags.name(here),
            "length": len(o.value),
            "value": o.value,
        }
        if o.children is not None:
            item["tags"] = tag_list(o.children, here)
        out.append(item)
    return out


def lines(d: Decoded) -> list[str]:
    """One line per data object, nested ones indented, then the CRC verdict and warnings."""
    out = _lines(d.objects, (), d)
    out.append(f"CRC {d.crc}: valid")
    out += [f"warning: {w.code} {w.tag}: {w.message}" for w in d.warnings]
    return out


def _lines(objects: tuple[DataObject, ...], path: tuple[str, ...], d: Decoded) -> list[str]:
    out = []
    for o in objects:
        here = (*path, o.tag)
        label = f"{'  ' * len(path)}{o.tag} {tags.name(here)}"
        shown = o.value if o.children is None else f"({len(o.children)} data objects)"
        out.append(f"{label:<46} {shown}{_note(here, d)}")
        if o.children is not None:
            out += _lines(o.children, here, d)
    return out


def _note(path: tuple[str, ...], d: Decoded) -> str:
    if path == (tags.INITIATION,) and d.point_of_initiation:
        return f"  [{d.point_of_initiation}]"
    if path == (tags.CURRENCY,) and d.currency:
        return f"  [{d.currency.code}]"
    if path == (tags.AMOUNT,) and d.currency:
        return f"  [{emv.amount_minor(d)} minor units]"
    return ""


def qr_code(payload: str) -> dict[str, Any]:
    """What encoding answers: the payload and the facts a till shows beside the code."""
    d = emv.decode(payload)
    cur = d.currency
    return {
        "object": "qr_code",
        "payload": payload,
        "crc": d.crc,
        "length": len(payload),
        "point_of_initiation": d.point_of_initiation,
        "currency": cur.code if cur else None,
        "amount": emv.amount_minor(d),
    }


def crc_valid(code: str) -> bool | None:
    """For a refused payload, whether its CRC held: None when refused before the CRC was
    checked (too long, bad characters), False when the CRC is absent or wrong."""
    if code in ("too_long", "invalid_character"):
        return None
    return code not in ("crc_missing", "crc_mismatch")
