"""Build a merchant-presented payload from named fields (what a merchant's till knows).

Every field is checked with the field's own name in the error, so a caller learns which
input to fix; the finished payload is then decoded strictly as a last guard, so nothing
built here fails to decode. Amounts come in as integer minor units and are written with
the currency's exponent ("2372" CNY -> "23.72"), never through a float.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, fields

from rongpay.qr import amount, checks, emv, tags
from rongpay.qr.errors import QrError, QrErrorCode
from rongpay.qr.tlv import MAX_VALUE, DataObject, template

SUB_TAG = re.compile(r"^[0-9]{2}$")
LANGUAGE = re.compile(r"^[A-Za-z]{2}$")
FIRST_ACCOUNT, LAST_ACCOUNT = 26, 51


@dataclass(frozen=True, slots=True)
class Account:
    """A merchant account template (26-51): the network's globally unique id (sub-tag 00)
    and its own sub-tags, e.g. (("01", "merchant id"),). TAG defaults to the next free id."""

    gui: str
    fields: tuple[tuple[str, str], ...] = ()
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class AdditionalData:
    """Template 62; the field order is the sub-tag order 01-11."""

    bill_number: str | None = None
    mobile_number: str | None = None
    store_label: str | None = None
    loyalty_number: str | None = None
    reference_label: str | None = None
    customer_label: str | None = None
    terminal_label: str | None = None
    purpose: str | None = None
    consumer_data_request: str | None = None
    merchant_tax_id: str | None = None
    merchant_channel: str | None = None


@dataclass(frozen=True, slots=True)
class AlternateLanguage:
    """Template 64: the merchant's name (and city) in another language, e.g. ZH 最佳运输."""

    language: str
    merchant_name: str
    merchant_city: str | None = None


@dataclass(frozen=True, slots=True)
class MerchantQr:
    """What goes into a payload. POINT_OF_INITIATION is "static" or "dynamic"; by default a
    code with an amount is dynamic (one payment), one without is static (reusable)."""

    merchant_name: str
    merchant_city: str
    country: str
    mcc: str
    currency: str  # ISO 4217, alphabetic ("CNY") or numeric ("156")
    accounts: tuple[Account, ...]
    amount_minor: int | None = None
    point_of_initiation: str | None = None
    postal_code: str | None = None
    additional: AdditionalData | None = None
    alternate_language: AlternateLanguage | None = None


def build(qr: MerchantQr) -> str:
    """The payload for QR, CRC included, or QrError naming the field at fault."""
    payload = emv.encode(data_objects(qr))
    emv.decode(payload, strict=True)
    return payload


def data_objects(qr: MerchantQr) -> tuple[DataObject, ...]:
    cur = amount.lookup(qr.currency.strip().upper()) if isinstance(qr.currency, str) else None
    if cur is None:
        raise _invalid("currency", f"{qr.currency!r} is not an ISO 4217 currency code")
    out = [DataObject(tags.PAYLOAD_FORMAT, "01"), _initiation(qr), *_accounts(qr.accounts)]
    out.append(DataObject(tags.MCC, _match("mcc", qr.mcc, checks.MCC, "4 digits, e.g. 5812")))
    out.append(DataObject(tags.CURRENCY, cur.number))
    if qr.amount_minor is not None:
        minor = qr.amount_minor
        if not isinstance(minor, int) or isinstance(minor, bool) or minor < 1:
            raise _invalid("amount", "must be a whole number of minor units, at least 1")
        text = amount.from_minor(minor, cur)
        if len(text) > amount.MAX_AMOUNT_CHARS:
            raise _invalid("amount", f"{text} {cur.code} is over 13 characters")
        out.append(DataObject(tags.AMOUNT, text))
    country = qr.country.upper() if isinstance(qr.country, str) else qr.country
    out.append(DataObject(tags.COUNTRY, _match("country", country, checks.COUNTRY, "e.g. CN")))
    out.append(DataObject(tags.NAME, _text("merchant_name", qr.merchant_name, 25)))
    out.append(DataObject(tags.CITY, _text("merchant_city", qr.merchant_city, 15)))
    if qr.postal_code is not None:
        out.append(DataObject(tags.POSTAL_CODE, _text("postal_code", qr.postal_code, 10)))
    if qr.additional is not None and (extra := _additional(qr.additional)) is not None:
        out.append(extra)
    if qr.alternate_language is not None:
        out.append(_language(qr.alternate_language))
    return tuple(out)


def _initiation(qr: MerchantQr) -> DataObject:
    chosen = qr.point_of_initiation
    if chosen is None:
        chosen = "static" if qr.amount_minor is None else "dynamic"
    if chosen not in ("static", "dynamic"):
        raise _invalid("point_of_initiation", f"{chosen!r} is neither static nor dynamic")
    return DataObject(tags.INITIATION, tags.STATIC if chosen == "static" else tags.DYNAMIC)


def _accounts(accounts: tuple[Account, ...]) -> Iterator[DataObject]:
    if not accounts:
        raise _invalid("accounts", "at least one merchant account (GUI and value) is needed")
    given = {a.tag for a in accounts if a.tag is not None}
    free = (f"{n}" for n in range(FIRST_ACCOUNT, LAST_ACCOUNT + 1) if f"{n}" not in given)
    used: set[str] = set()
    for i, acc in enumerate(accounts):
        where = f"accounts[{i}]"
        tag = acc.tag if acc.tag is not None else next(free, None)
        if tag is None or not SUB_TAG.match(tag) or not FIRST_ACCOUNT <= int(tag) <= 51:
            raise _invalid(f"{where}.tag", f"{tag!r}: account templates use ids 26-51")
        if tag in used:
            raise _invalid(f"{where}.tag", f"id {tag} is used twice")
        used.add(tag)
        kids = [DataObject(tags.GUI, _text(f"{where}.gui", acc.gui, checks.MAX_GUI))]
        kids += _sub_fields(where, acc.fields)
        yield _sized(f"{where}", template(tag, kids))


def _sub_fields(where: str, items: tuple[tuple[str, str], ...]) -> Iterator[DataObject]:
    seen = {tags.GUI}
    for sub, value in items:
        if not isinstance(sub, str) or not SUB_TAG.match(sub) or sub in seen:
            raise _invalid(f"{where}.fields", f"sub-tag {sub!r}: use 01-99, each once")
        seen.add(sub)
        yield DataObject(sub, _text(f"{where}.fields.{sub}", value, MAX_VALUE))


def _additional(extra: AdditionalData) -> DataObject | None:
    kids = []
    for number, f in enumerate(fields(extra), 1):
        value = getattr(extra, f.name)
        if value is not None:
            kids.append(DataObject(f"{number:02d}", _text(f.name, value, checks.MAX_ADDITIONAL)))
    if extra.consumer_data_request is not None and not set(extra.consumer_data_request) <= set(
        "AME"
    ):
        raise _invalid("consumer_data_request", "use the letters A (address), M (mobile), E")
    return _sized("additional_data", template(tags.ADDITIONAL, kids)) if kids else None


def _language(alt: AlternateLanguage) -> DataObject:
    kids = [
        DataObject("00", _match("alternate_language.language", alt.language, LANGUAGE, "ZH")),
        DataObject("01", _text("alternate_language.merchant_name", alt.merchant_name, 25)),
    ]
    if alt.merchant_city is not None:
        kids.append(
            DataObject("02", _text("alternate_language.merchant_city", alt.merchant_city, 15))
        )
    return _sized("alternate_language", template(tags.LANGUAGE, kids))


def _sized(field: str, obj: DataObject) -> DataObject:
    if len(obj.value) > MAX_VALUE:
        raise _invalid(
            field, f"encodes to {len(obj.value)} characters; a template holds at most {MAX_VALUE}"
        )
    return obj


def _text(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(field, "must be a non-empty string")
    if len(value) > limit:
        raise _invalid(field, f"{len(value)} characters; at most {limit}")
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise _invalid(field, f"U+{ord(char):04X} is not allowed (control or surrogate)")
    return value


def _match(field: str, value: object, pattern: re.Pattern[str], example: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise _invalid(field, f"{value!r} is not valid ({example})")
    return value


def _invalid(field: str, message: str) -> QrError:
    return QrError(QrErrorCode.INVALID_VALUE, f"{field}: {message}", field=field)
