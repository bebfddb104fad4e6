"""Decode and encode EMV QRCPS Merchant-Presented Mode payloads (the text inside the QR code).

`decode` checks, in this order (the first failure is the one reported): length, characters,
CRC present, CRC correct, data-object structure, CRC last, payload format, duplicates, nested
templates, values, mandatory tags. The CRC goes before the structure so that a mistyped
character is reported as the checksum failure it is, not as whatever it breaks.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rongpay.money import Currency
from rongpay.qr import amount, checks, tags, tlv
from rongpay.qr.checks import Issue
from rongpay.qr.crc import CRC_PREFIX, checksum
from rongpay.qr.errors import QrError, QrErrorCode
from rongpay.qr.tlv import DataObject

MAX_PAYLOAD = 512  # characters
HEX = frozenset("0123456789ABCDEF")


@dataclass(frozen=True, slots=True)
class Decoded:
    """A payload that passed `decode`: its data objects in order (the CRC last), and the
    conformance rules it breaks (empty when decoded with strict=True)."""

    payload: str
    objects: tuple[DataObject, ...]
    warnings: tuple[Issue, ...] = ()

    @property
    def crc(self) -> str:
        return self.objects[-1].value

    @property
    def crc_valid(self) -> bool:
        return True  # decode refuses any other payload

    def get(self, tag: str) -> DataObject | None:
        for o in self.objects:
            if o.tag == tag:
                return o
        return None

    def value(self, tag: str) -> str | None:
        found = self.get(tag)
        return found.value if found is not None else None

    @property
    def currency(self) -> Currency | None:
        number = self.value(tags.CURRENCY)
        return amount.by_number(number) if number is not None else None

    @property
    def point_of_initiation(self) -> str | None:
        return {tags.STATIC: "static", tags.DYNAMIC: "dynamic"}.get(
            self.value(tags.INITIATION) or ""
        )

    @property
    def accounts(self) -> tuple[DataObject, ...]:
        return tuple(o for o in self.objects if tags.is_account(o.tag))


def decode(payload: str, *, strict: bool = False) -> Decoded:
    """The data objects of PAYLOAD, or QrError. STRICT also refuses conformance breaches."""
    _check_text(payload)
    _check_crc(payload)
    top = tlv.parse(payload)
    _check_shape(top)
    _check_unique(top, "")
    objects = tuple(_expand(p) for p in top)
    for issue in checks.hard(objects):
        raise QrError(issue.code, issue.message, tag=issue.tag)
    warnings = tuple(checks.conformance(objects))
    if strict and warnings:
        first = warnings[0]
        raise QrError(first.code, first.message, tag=first.tag)
    return Decoded(payload, objects, warnings)


def encode(source: Decoded | Iterable[DataObject]) -> str:
    """The payload for these data objects (any CRC among them is recomputed, and last)."""
    objects = source.objects if isinstance(source, Decoded) else tuple(source)
    for o in objects:
        if not tlv.is_id(o.tag) or not 1 <= len(o.value) <= tlv.MAX_VALUE:
            raise QrError(QrErrorCode.INVALID_VALUE,
                          f"tag {o.tag!r}: ids are 2 digits, values 1-99 characters; this one "
                          f"has {len(o.value)}", tag=o.tag)  # fmt: skip
    body = tlv.join(o for o in objects if o.tag != tags.CRC) + CRC_PREFIX
    payload = body + checksum(body)
    if len(payload) > MAX_PAYLOAD:
        raise QrError(
            QrErrorCode.TOO_LONG,
            f"the payload would be {len(payload)} characters; at most {MAX_PAYLOAD}",
        )
    return payload


def amount_minor(decoded: Decoded) -> int | None:
    """Tag 54 in minor units of the tag-53 currency; None when the payload has no amount."""
    text = decoded.value(tags.AMOUNT)
    if text is None:
        return None
    cur = decoded.currency
    if cur is None:
        raise QrError(
            QrErrorCode.MISSING_TAG, "an amount needs a known currency (tag 53)", tag=tags.CURRENCY
        )
    return amount.to_minor(text, cur)


def _check_text(payload: str) -> None:
    if len(payload) > MAX_PAYLOAD:
        raise QrError(
            QrErrorCode.TOO_LONG,
            f"the payload has {len(payload)} characters; at most {MAX_PAYLOAD}",
        )
    for i, char in enumerate(payload):
        category = unicodedata.category(char)
        if category in ("Cc", "Cs"):
            what = "a control character" if category == "Cc" else "not encodable as UTF-8"
            raise QrError(
                QrErrorCode.INVALID_CHARACTER,
                f"the character at position {i} (U+{ord(char):04X}) is {what}",
                position=i,
            )


def _check_crc(payload: str) -> None:
    if len(payload) < 8 or payload[-8:-4] != CRC_PREFIX:
        raise QrError(
            QrErrorCode.CRC_MISSING,
            "no CRC: a payload ends with the CRC data object 6304 and 4 hex digits",
            tag=tags.CRC,
        )
    found, expected = payload[-4:], checksum(payload[:-4])
    if found != expected:
        hint = "" if set(found) <= HEX else " (4 uppercase hex digits)"
        raise QrError(
            QrErrorCode.CRC_MISMATCH,
            f"CRC mismatch: the payload says {found!r}{hint}, its content gives "
            f"{expected!r}; it was altered or mistyped",
            tag=tags.CRC,
        )


def _check_shape(top: list[tlv.Parsed]) -> None:
    last = top[-1].obj
    if last.tag != tags.CRC or len(last.value) != 4:
        raise QrError(
            QrErrorCode.CRC_MISSING,
            f"the last data object is not the CRC (6304); the payload ends inside tag {last.tag}",
            tag=tags.CRC,
        )
    first = top[0].obj
    if first.tag != tags.PAYLOAD_FORMAT or first.value != "01":
        shown = f"tag {first.tag} = {first.value!r}"
        raise QrError(
            QrErrorCode.PAYLOAD_FORMAT,
            f"a payload starts with 000201 (payload format indicator 01); this one "
            f"starts with {shown}",
            tag=tags.PAYLOAD_FORMAT,
            position=0,
        )


def _check_unique(parsed: list[tlv.Parsed], parent: str) -> None:
    seen: dict[str, int] = {}
    for p in parsed:
        tag = f"{parent}{p.obj.tag}"
        if p.obj.tag in seen:
            raise QrError(
                QrErrorCode.DUPLICATE_TAG,
                f"tag {tag} appears twice (positions {seen[p.obj.tag]} and {p.position})",
                tag=tag,
                position=p.position,
            )
        seen[p.obj.tag] = p.position


def _expand(p: tlv.Parsed, path: tuple[str, ...] = ()) -> DataObject:
    """P with its children parsed when its id makes it a template (recursively)."""
    here = (*path, p.obj.tag)
    kind = tags.kind(here)
    if kind == tags.Kind.PRIMITIVE:
        return p.obj
    start = p.position + 4
    try:
        inner = tlv.parse(p.obj.value, start)
    except QrError:
        if kind == tags.Kind.MAYBE_TEMPLATE:
            return p.obj  # an opaque payment-system value, as real payloads carry
        raise
    _check_unique(inner, ".".join(here) + ".")
    return DataObject(p.obj.tag, p.obj.value, tuple(_expand(c, here) for c in inner))
