"""The risk package's exceptions: each carries a message a person can act on."""

from __future__ import annotations


class RiskError(Exception):
    """Base of every risk error; `code` is stable and listed in docs/reference/risk.md."""

    code = "risk_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EventError(RiskError):
    """One event is unusable (malformed JSON, wrong type, unknown currency, out of order)."""

    code = "invalid_event"

    def __init__(self, message: str, code: str = "invalid_event") -> None:
        super().__init__(message)
        self.code = code


class RuleSyntaxError(RiskError):
    """A rules file does not parse; the message starts with `LINE:COLUMN:`."""

    code = "rule_syntax"

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.line, self.column = line, column


class ListFormatError(RiskError):
    """A block/allow list file has a bad line; the message names it."""

    code = "list_format"


class ModelFileError(RiskError):
    """A model file is missing, corrupt or made for other features."""

    code = "model_file"


class StateFileError(RiskError):
    """A feature-state snapshot cannot be read or written."""

    code = "state_file"


class RuleVersionError(RiskError):
    """A rule-set version cannot be published, found or given a role; `code` says why:
    `unknown_version`, `exists_with_different_source`, `no_active_version`, `already_active`."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code
