"""Why a payment request is refused: one exception, a closed set of codes by kind.

The kind tells the API which HTTP status to answer (api/payments.py maps it; this package
knows nothing of HTTP): `invalid` bad input, `declined` a payment the channel or risk refused,
`missing` an unknown object, `state` an action the object's state forbids, `conflict` a
concurrent duplicate.
"""

from __future__ import annotations

import enum


class Kind(enum.StrEnum):
    invalid = "invalid"
    declined = "declined"
    missing = "missing"
    state = "state"
    conflict = "conflict"
    unavailable = "unavailable"


class PaymentError(Exception):
    """A refused request: stable CODE, a message a person can act on, the PARAM at fault."""

    def __init__(
        self,
        kind: Kind,
        code: str,
        message: str,
        *,
        param: str | None = None,
        decline_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.param = param
        self.decline_code = decline_code


def invalid(code: str, message: str, param: str | None = None) -> PaymentError:
    return PaymentError(Kind.invalid, code, message, param=param)


def missing(kind: str, object_id: str, param: str = "id") -> PaymentError:
    shown = object_id if len(object_id) <= 80 else object_id[:77] + "..."
    return PaymentError(Kind.missing, "resource_missing", f"No such {kind}: {shown!r}", param=param)


def unexpected_state(kind: str, object_id: str, status: str, action: str) -> PaymentError:
    return PaymentError(
        Kind.state,
        f"{kind}_unexpected_state",
        f"You cannot {action} this {kind.replace('_', ' ')} because it has a status of {status}.",
    )
