"""The EMV QRCPS Merchant-Presented Mode (v1.1) data objects: their names and which are templates.

Ids are two digits. Top-level 26-51 (merchant account information), 62 (additional data),
64 (merchant information in another language) and 80-99 (unreserved) are templates: their
value is itself a run of data objects. Inside 62, ids 50-99 are payment-system templates;
real payloads put opaque values there too, so those are read as templates only when they
parse as one (see emv.decode).
"""

from __future__ import annotations

from enum import StrEnum

PAYLOAD_FORMAT = "00"
INITIATION = "01"
MCC = "52"
CURRENCY = "53"
AMOUNT = "54"
TIP = "55"
FEE_FIXED = "56"
FEE_PERCENT = "57"
COUNTRY = "58"
NAME = "59"
CITY = "60"
POSTAL_CODE = "61"
ADDITIONAL = "62"
CRC = "63"
LANGUAGE = "64"
GUI = "00"  # sub-tag 00 of an account or unreserved template: its globally unique id

STATIC = "11"
DYNAMIC = "12"


class Kind(StrEnum):
    PRIMITIVE = "primitive"
    TEMPLATE = "template"  # must parse as data objects
    MAYBE_TEMPLATE = "maybe_template"  # a template when it parses as one, else opaque


_TOP: dict[str, str] = {
    "00": "Payload Format Indicator",
    "01": "Point of Initiation Method",
    "52": "Merchant Category Code",
    "53": "Transaction Currency",
    "54": "Transaction Amount",
    "55": "Tip or Convenience Indicator",
    "56": "Value of Convenience Fee Fixed",
    "57": "Value of Convenience Fee Percentage",
    "58": "Country Code",
    "59": "Merchant Name",
    "60": "Merchant City",
    "61": "Postal Code",
    "62": "Additional Data Field Template",
    "63": "CRC",
    "64": "Merchant Information - Language Template",
}

# Primitive merchant account information, reserved per card network (02-25).
_NETWORKS = (
    (2, 3, "Visa"),
    (4, 5, "Mastercard"),
    (6, 8, "EMVCo"),
    (9, 10, "Discover"),
    (11, 12, "Amex"),
    (13, 14, "JCB"),
    (15, 16, "UnionPay"),
    (17, 25, "EMVCo"),
)

_ADDITIONAL: dict[str, str] = {
    "01": "Bill Number",
    "02": "Mobile Number",
    "03": "Store Label",
    "04": "Loyalty Number",
    "05": "Reference Label",
    "06": "Customer Label",
    "07": "Terminal Label",
    "08": "Purpose of Transaction",
    "09": "Additional Consumer Data Request",
    "10": "Merchant Tax ID",
    "11": "Merchant Channel",
}

_LANGUAGE: dict[str, str] = {
    "00": "Language Preference",
    "01": "Merchant Name - Alternate Language",
    "02": "Merchant City - Alternate Language",
}


def _n(tag: str) -> int:
    return int(tag)


def is_account(tag: str) -> bool:
    """Merchant account information: 02-25 primitive, 26-51 templates."""
    return 2 <= _n(tag) <= 51


def top_name(tag: str) -> str:
    n = _n(tag)
    if tag in _TOP:
        return _TOP[tag]
    for low, high, network in _NETWORKS:
        if low <= n <= high:
            return f"Merchant Account Information ({network})"
    if 26 <= n <= 51:
        return "Merchant Account Information"
    if 65 <= n <= 79:
        return "RFU for EMVCo"
    return "Unreserved Template"  # 80-99


def sub_name(parent: str, tag: str) -> str:
    """The name of TAG inside the template PARENT (a top-level id)."""
    n, p = _n(tag), _n(parent)
    if parent == ADDITIONAL:
        if tag in _ADDITIONAL:
            return _ADDITIONAL[tag]
        return "RFU for EMVCo" if n < 50 else "Payment System Specific Template"
    if parent == LANGUAGE:
        return _LANGUAGE.get(tag, "RFU for EMVCo")
    if tag == GUI:
        return "Globally Unique Identifier"
    return "Payment Network Specific" if p <= 51 else "Context Specific Data"


def nested_name(tag: str) -> str:
    """Inside a payment-system template of 62 (62.50-62.99)."""
    return "Globally Unique Identifier" if tag == GUI else "Payment System Specific"


def kind(path: tuple[str, ...]) -> Kind:
    """Whether the data object at PATH (ids from the top) holds data objects."""
    if len(path) == 1:
        n = _n(path[0])
        if 26 <= n <= 51 or 80 <= n <= 99 or path[0] in (ADDITIONAL, LANGUAGE):
            return Kind.TEMPLATE
        return Kind.PRIMITIVE
    if len(path) == 2 and path[0] == ADDITIONAL and _n(path[1]) >= 50:
        return Kind.MAYBE_TEMPLATE
    return Kind.PRIMITIVE


def name(path: tuple[str, ...]) -> str:
    if len(path) == 1:
        return top_name(path[0])
    if len(path) == 2:
        return sub_name(path[0], path[1])
    return nested_name(path[-1])
