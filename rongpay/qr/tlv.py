"""Data objects: a 2-digit id, a 2-digit length, a value; templates nest more of them.

Lengths count characters, not bytes ("0104最佳运输" is 4 characters), so a payload is
parsed as text. A parsed template keeps its raw value beside its children, and writing
objects back gives the same characters: encode(decode(x)) == x.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rongpay.qr.errors import QrError, QrErrorCode

MAX_VALUE = 99  # two length digits


@dataclass(frozen=True, slots=True)
class DataObject:
    """One data object. `children` is None for a primitive; for a template, its objects
    in payload order, whose encoding is exactly `value`."""

    tag: str
    value: str
    children: tuple[DataObject, ...] | None = None

    def encode(self) -> str:
        return f"{self.tag}{len(self.value):02d}{self.value}"

    def child(self, tag: str) -> DataObject | None:
        for found in self.children or ():
            if found.tag == tag:
                return found
        return None


@dataclass(frozen=True, slots=True)
class Parsed:
    """A data object read from text, with the offset of its first character."""

    obj: DataObject
    position: int


def template(tag: str, children: Iterable[DataObject]) -> DataObject:
    """A template built from its children (the value follows from them)."""
    kids = tuple(children)
    return DataObject(tag, join(kids), kids)


def join(objects: Iterable[DataObject]) -> str:
    return "".join(o.encode() for o in objects)


def _digits(text: str) -> bool:
    return len(text) == 2 and text.isascii() and text.isdigit()


def is_id(tag: object) -> bool:
    """Whether TAG is a data object id: two ASCII digits."""
    return isinstance(tag, str) and _digits(tag)


def parse(text: str, offset: int = 0) -> list[Parsed]:
    """Split TEXT into data objects; OFFSET is where TEXT starts in the payload (for errors).

    Bounded: each step consumes at least 5 characters of a payload of at most 512.
    """
    out: list[Parsed] = []
    i = 0
    while i < len(text):
        at = offset + i
        head = text[i : i + 4]
        if len(head) < 4:
            raise _malformed(
                at,
                f"{len(head)} character(s) left where a data object "
                "(2-digit id, 2-digit length, value) should start",
            )
        tag, length = head[:2], head[2:]
        if not _digits(tag):
            raise _malformed(at, f"the id {tag!r} is not two digits")
        if not _digits(length) or length == "00":
            raise _malformed(at, f"tag {tag}: the length {length!r} is not 01-99")
        end = i + 4 + int(length)
        if end > len(text):
            raise _malformed(
                at,
                f"tag {tag} declares {int(length)} characters but only {len(text) - i - 4} remain",
            )
        out.append(Parsed(DataObject(tag, text[i + 4 : end]), at))
        i = end
    return out


def _malformed(position: int, reason: str) -> QrError:
    return QrError(
        QrErrorCode.MALFORMED_TLV,
        f"malformed data object at position {position}: {reason}",
        position=position,
    )
