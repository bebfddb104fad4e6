"""Errors of the compliance capability: each carries a stable `code` a caller can branch on."""

from __future__ import annotations


class ComplianceError(Exception):
    """Base of compliance errors; `code` is stable, the message is for people."""

    code = "compliance_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ListFormatError(ComplianceError):
    """A sanctions list is malformed; nothing of it was loaded."""

    code = "invalid_list"


class EventFormatError(ComplianceError):
    """One line of an event file is malformed (the scan goes on without it)."""

    code = "invalid_event"

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


class InvalidInput(ComplianceError):
    """A bad argument: an empty name, an unknown country, status or rating."""

    code = "invalid_input"


class NotFound(ComplianceError):
    code = "not_found"


class WorkflowError(ComplianceError):
    """A case or complaint action the workflow forbids (e.g. four-eyes closing)."""

    code = "workflow_violation"

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class ReportWriteError(ComplianceError):
    """A report's files could not be written; the report was not recorded."""

    code = "report_write_failed"
