"""Pydantic models of the API's bodies, for /openapi.json and the request envelope.

Items inside a batch are documented here field by field but validated by the ledger's own
parser (rongpay.ledger.parse), so a bad item gets its precise result code (`id_invalid`,
`amount_must_not_be_zero`, ...) while the rest of the batch is judged on its own.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rongpay.ledger.types import MAX_BATCH, AccountFlag, TransferFlag

Id = int | str
ID_DOC = "a positive integer or a token of 1-64 characters [A-Za-z0-9_.:-]"


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. decline_code, payment_intent
    type: str = Field(description="invalid_request_error, authentication_error or api_error")
    code: str = Field(description="stable machine-readable code (see docs/reference/http-api.md)")
    message: str = Field(description="what went wrong, for a person")
    param: str | None = Field(None, description="the offending parameter, e.g. transfers[3]")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: Id = Field(description=f"chosen by the client: {ID_DOC}")
    ledger: str = Field(description="ISO 4217 currency code, e.g. USD")
    code: Id = Field(description="the account's kind, e.g. customer_wallet")
    flags: list[AccountFlag | TransferFlag] = Field(
        default_factory=list, description="account flags; `linked` chains it to the next item"
    )
    owner: str | None = Field(None, description="free text up to 256 characters")


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: Id = Field(description=f"chosen by the client (a retry is idempotent): {ID_DOC}")
    debit_account_id: Id | None = None
    credit_account_id: Id | None = None
    amount: int | None = Field(
        None, description="minor units; for post_pending 0 or absent means the full amount"
    )
    ledger: str | None = Field(None, description="ISO 4217 code; defaults to the accounts'")
    code: Id | None = None
    flags: list[TransferFlag] = Field(default_factory=list)
    pending_id: Id | None = Field(None, description="the pending transfer to post or void")
    timeout: int | None = Field(None, description="seconds before a pending transfer expires")
    user_data: str | None = Field(None, description="free text up to 256 characters")


class AccountsRequest(BaseModel):
    accounts: list[AccountIn] = Field(max_length=MAX_BATCH)


class TransfersRequest(BaseModel):
    transfers: list[TransferIn] = Field(max_length=MAX_BATCH)


class ItemResult(BaseModel):
    id: Any = Field(description="the item's id exactly as sent")
    result: str = Field(description="ok, exists or the reason code (ledger result codes)")


class BatchResults(BaseModel):
    results: list[ItemResult]


class Account(BaseModel):
    object: str = "ledger.account"
    id: Id
    ledger: str
    code: str
    flags: list[AccountFlag]
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    owner: str | None
    timestamp: int = Field(description="creation time, ns since the Unix epoch")


class AccountPage(BaseModel):
    object: str = "list"
    url: str
    data: list[Account] = Field(description="in id order (text order)")
    has_more: bool


class Transfer(BaseModel):
    object: str = "ledger.transfer"
    id: Id
    debit_account_id: Id
    credit_account_id: Id
    amount: int
    ledger: str
    code: str
    flags: list[TransferFlag]
    pending_id: Id | None
    timeout: int
    user_data: str | None
    timestamp: int = Field(description="commit time, ns since the Unix epoch")
    created: str = Field(description="the same as RFC 3339 UTC")
    pending_state: str | None = Field(
        None, description="pending transfers only: pending, posted, voided or expired"
    )


class RunningBalance(BaseModel):
    debits_posted: int
    credits_posted: int


class StatementEntry(Transfer):
    direction: str = Field(description="debit or credit: this account's side")
    balance: RunningBalance = Field(description="the account's posted balances after it")


class StatementPage(BaseModel):
    object: str = "list"
    url: str
    data: list[StatementEntry] = Field(description="newest first")
    has_more: bool


class BalanceOut(BaseModel):
    object: str = "ledger.balance"
    account_id: Id
    ledger: str
    at: str | None = Field(description="the time asked for, RFC 3339 UTC; null for now")
    at_ns: int | None = Field(description="the same in ns since the epoch")
    as_of_transfer_timestamp: int | None = Field(
        description="timestamp (ns) of the change that set these balances; null before the first"
    )
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


class Health(BaseModel):
    status: str
    database: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "invalid_json, parameter_invalid, "
          "batch_too_large, history_not_enabled"},
    401: {"model": ErrorResponse, "description": "authentication_required, invalid_api_key"},
    402: {"model": ErrorResponse, "description": "card_declined (with decline_code), "
          "payment_declined"},
    403: {"model": ErrorResponse, "description": "admin_required"},
    404: {"model": ErrorResponse, "description": "resource_missing"},
    409: {"model": ErrorResponse, "description": "idempotency_key_in_use"},
    413: {"model": ErrorResponse, "description": "payload_too_large"},
    500: {"model": ErrorResponse, "description": "internal_error (a bug; logged)"},
    503: {"model": ErrorResponse, "description": "service_unavailable (database down)"},
}  # fmt: skip


def errors(*statuses: int, bad: str | None = None) -> dict[int | str, dict[str, Any]]:
    """The error responses of one operation; BAD names its 400 codes."""
    out: dict[int | str, dict[str, Any]] = {s: ERRORS[s] for s in statuses}
    if bad is not None:
        out[400] = {"model": ErrorResponse, "description": bad}
    return out


def request_body(model: str) -> dict[str, Any]:
    """An OpenAPI requestBody naming a model of this module (added to the schema by app.py)."""
    ref = {"$ref": f"#/components/schemas/{model}"}
    return {"required": True, "content": {"application/json": {"schema": ref}}}


REQUEST_MODELS: tuple[type[BaseModel], ...] = (AccountsRequest, TransfersRequest)
