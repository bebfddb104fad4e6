"""Identity document checks that really validate (check digits, dates), not just shapes.

- Chinese resident identity number (GB 11643-1999): 18 characters, ISO 7064 MOD 11-2 check
  character, a real birth date, a known province code.
- Passport machine-readable zone (ICAO 9303, TD3: two lines of 44 characters): the check
  digits of the document number, birth date, expiry date, optional data, and the composite.
- IBAN (ISO 13616) through schwifty: country format, length, bank code, MOD 97 check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class DocumentKind(StrEnum):
    CN_RESIDENT_ID = "cn_resident_id"
    PASSPORT_MRZ = "passport_mrz"
    IBAN = "iban"


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    kind: DocumentKind
    valid: bool
    reason: str | None = None  # a stable code when invalid
    message: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "kind": str(self.kind),
            "valid": self.valid,
            "reason": self.reason,
            "message": self.message,
            "fields": self.fields,
        }


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)


def _bad(kind: DocumentKind, reason: str, message: str) -> DocumentCheck:
    return DocumentCheck(kind, False, reason, message)


def check_cn_resident_id(number: str, today: date | None = None) -> DocumentCheck:
    kind = DocumentKind.CN_RESIDENT_ID
    text = number.strip().upper()
    # [0-9], not \d: \d also matches full-width and other scripts' digits.
    if not re.fullmatch(r"[0-9]{17}[0-9X]", text, flags=re.ASCII):
        return _bad(kind, "bad_format", "an ID number is 17 digits and a digit or X")
    if text[:2] not in _PROVINCES:
        return _bad(kind, "bad_region", f"no province has code {text[:2]}")
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return _bad(kind, "bad_birth_date", f"{text[6:14]} is not a date")
    if born > (today or date.today()) or born.year < 1900:
        return _bad(kind, "bad_birth_date", f"birth date {born} is not plausible")
    total = sum(int(d) * w for d, w in zip(text[:17], _ID_WEIGHTS, strict=True))
    expected = _ID_CHECK[total % 11]
    if text[17] != expected:
        return _bad(kind, "bad_check_digit", f"check character should be {expected}")
    sex = "male" if int(text[16]) % 2 else "female"
    return DocumentCheck(kind, True, fields={"birth_date": born.isoformat(), "sex": sex})


def mrz_check_digit(chars: str) -> str:
    """ICAO 9303 check digit: weights 7, 3, 1; digits, A=10..Z=35, '<'=0."""
    total = 0
    for i, ch in enumerate(chars):
        if ch.isdigit():
            value = int(ch)
        elif "A" <= ch <= "Z":
            value = ord(ch) - 55
        elif ch == "<":
            value = 0
        else:
            raise ValueError(f"character {ch!r} is not allowed in an MRZ")
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


_TD3 = 44  # characters per line of a passport MRZ (ICAO 9303 TD3), two lines


def _mrz_lines(mrz: str) -> tuple[str, str] | None:
    """The two TD3 lines: newline-separated (each exactly 44 characters, surrounding spaces
    ignored) or one run of 88; None when the shape is wrong."""
    lines = [line.strip() for line in mrz.strip().splitlines()]
    if len(lines) == 1 and len(lines[0]) == 2 * _TD3:
        lines = [lines[0][:_TD3], lines[0][_TD3:]]
    if len(lines) != 2 or any(not re.fullmatch(r"[A-Z0-9<]{44}", line) for line in lines):
        return None
    return lines[0], lines[1]


def _mrz_date(yymmdd: str) -> bool:
    """A real date in YYMMDD (either century: 000229 is 29 February 2000)."""
    if not re.fullmatch(r"[0-9]{6}", yymmdd):
        return False
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    for century in (1900, 2000):
        try:
            date(century + yy, mm, dd)
            return True
        except ValueError:
            continue
    return False


def check_passport_mrz(mrz: str) -> DocumentCheck:
    """Two TD3 lines of 44 characters (newline-separated, or 88 characters in one)."""
    kind = DocumentKind.PASSPORT_MRZ
    lines = _mrz_lines(mrz.upper())
    if lines is None:
        return _bad(kind, "bad_format", "a passport MRZ is two lines of 44 of A-Z, 0-9 and <")
    line1, line2 = lines
    if line1[0] != "P":
        return _bad(kind, "bad_format", "line 1 of a passport MRZ starts with P")
    if not _mrz_date(line2[13:19]):
        return _bad(kind, "bad_birth_date", f"birth date {line2[13:19]} is not a YYMMDD date")
    if not _mrz_date(line2[21:27]):
        return _bad(kind, "bad_expiry_date", f"expiry date {line2[21:27]} is not a YYMMDD date")
    checks = (
        ("document_number", line2[0:9], line2[9]),
        ("birth_date", line2[13:19], line2[19]),
        ("expiry_date", line2[21:27], line2[27]),
        ("optional_data", line2[28:42], line2[42]),
        ("composite", line2[0:10] + line2[13:20] + line2[21:43], line2[43]),
    )
    for name, data, digit in checks:
        if name == "optional_data" and digit == "<" and set(data) == {"<"}:
            continue
        if mrz_check_digit(data) != digit:
            return _bad(kind, "bad_check_digit", f"check digit of {name} does not match")
    surname, _, given = line1[5:].partition("<<")
    return DocumentCheck(
        kind,
        True,
        fields={
            "issuing_state": line1[2:5].replace("<", ""),
            "surname": surname.replace("<", " ").strip(),
            "given_names": given.replace("<", " ").strip(),
            "document_number": line2[0:9].replace("<", ""),
            "nationality": line2[10:13].replace("<", ""),
            "birth_date": line2[13:19],
            "sex": line2[20],
            "expiry_date": line2[21:27],
        },
    )


def check_iban(text: str) -> DocumentCheck:
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    kind = DocumentKind.IBAN
    try:
        iban = IBAN(text)
    except SchwiftyException as exc:
        return _bad(kind, "invalid_iban", str(exc))
    return DocumentCheck(
        kind,
        True,
        fields={"iban": iban.compact, "country": iban.country_code, "bank_code": iban.bank_code},
    )


def check_document(kind: DocumentKind, value: str) -> DocumentCheck:
    if kind is DocumentKind.CN_RESIDENT_ID:
        return check_cn_resident_id(value)
    if kind is DocumentKind.PASSPORT_MRZ:
        return check_passport_mrz(value)
    return check_iban(value)
