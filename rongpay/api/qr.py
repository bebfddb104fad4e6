"""HTTP face of EMVCo merchant-presented QR codes: decode, encode, and images of a payload.

Thin: read the body, call rongpay.qr, render. A refused payload is a 400 whose `code` is the
decoder's reason (`crc_mismatch`, `malformed_tlv`, ...) with `param: "payload"`; fields that
cannot be encoded are a 400 naming the field. Nothing here touches the database.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from rongpay.api import render, schemas
from rongpay.api.auth import require_caller
from rongpay.api.deps import json_body
from rongpay.api.errors import ApiError, parameter_invalid
from rongpay.qr import emv, image
from rongpay.qr import render as qr_render
from rongpay.qr.errors import QrError
from rongpay.qr.merchant import Account as AccountIn
from rongpay.qr.merchant import AdditionalData, AlternateLanguage, MerchantQr, build

router = APIRouter(prefix="/v1/qr", tags=["qr"], dependencies=[Depends(require_caller)])

DECODE_400 = (
    "invalid_json, parameter_invalid, too_long, invalid_character, crc_missing, crc_mismatch, "
    "malformed_tlv, payload_format, duplicate_tag, invalid_value, missing_tag"
)
ENCODE_400 = "invalid_json, parameter_invalid, parameter_unknown, invalid_value, too_long"
MAX_SCALE = 32


class QrTag(BaseModel):
    id: str = Field(description="two digits")
    name: str = Field(description="the EMV QRCPS name, e.g. Transaction Amount")
    length: int = Field(description="in characters")
    value: str = Field(description="as written in the payload (a template's raw content)")
    tags: list[QrTag] | None = Field(None, description="templates only: the nested tags")


class QrWarning(BaseModel):
    code: str = Field(description="missing_tag or invalid_value")
    tag: str = Field(description='e.g. "60" or "62.09"')
    message: str


class QrAccount(BaseModel):
    tag: str
    gui: str | None = Field(description="globally unique id (sub-tag 00); null for 02-25")
    value: str


class QrPayload(BaseModel):
    object: str = "qr_payload"
    payload: str
    crc: str
    crc_valid: bool
    point_of_initiation: str | None = Field(description="static, dynamic or null")
    merchant_name: str | None
    merchant_city: str | None
    country: str | None
    postal_code: str | None
    mcc: str | None
    currency: str | None = Field(description="ISO 4217 alphabetic code of tag 53")
    currency_numeric: str | None
    amount: int | None = Field(description="tag 54 in minor units of the currency")
    amount_text: str | None = Field(description="tag 54 as written, e.g. 23.72")
    accounts: list[QrAccount]
    tags: list[QrTag]
    warnings: list[QrWarning] = Field(description="EMV conformance rules the payload breaks")


class QrCode(BaseModel):
    object: str = "qr_code"
    payload: str
    crc: str
    length: int
    point_of_initiation: str | None
    currency: str | None
    amount: int | None


class DecodeRequest(BaseModel):
    payload: str = Field(description="the text in the QR code, CRC included")
    strict: bool = Field(False, description="also refuse EMV conformance breaches")


class AccountSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gui: str = Field(description="the network's globally unique id, e.g. br.gov.bcb.pix")
    value: str | None = Field(None, description="merchant id, written as sub-tag 01")
    fields: dict[str, str] | None = Field(None, description='sub-tags, e.g. {"01": "..."}')
    tag: str | None = Field(None, description="26-51; default the next free id")


class AdditionalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
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


class LanguageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: str = Field(description="two letters, e.g. ZH")
    merchant_name: str
    merchant_city: str | None = None


class EncodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merchant_name: str = Field(description="up to 25 characters")
    merchant_city: str = Field(description="up to 15 characters")
    country: str = Field(description="ISO 3166 alpha-2")
    mcc: str = Field(description="merchant category code, 4 digits")
    currency: str = Field(description="ISO 4217, alphabetic or numeric")
    amount: int | None = Field(None, description="minor units; makes the code dynamic")
    point_of_initiation: str | None = Field(None, description="static or dynamic")
    postal_code: str | None = None
    accounts: list[AccountSpec] = Field(min_length=1, max_length=26)
    additional_data: AdditionalSpec | None = None
    alternate_language: LanguageSpec | None = None


def _inline(model: type[BaseModel]) -> dict[str, Any]:
    """MODEL's JSON schema with its $defs inlined (app.py registers only its own models)."""
    js = model.model_json_schema()
    defs = js.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    body: dict[str, Any] = resolve(js)
    return {"required": True, "content": {"application/json": {"schema": body}}}


def _object(value: Any, param: str | None, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise parameter_invalid(param, f"`{param or 'body'}` must be a JSON object.")
    unknown = sorted(set(value) - keys)
    if unknown:
        name = f"{param}.{unknown[0]}" if param else unknown[0]
        raise ApiError(400, "parameter_unknown", f"Unknown parameter `{name}`.", param=name)
    return value


def _qr_error(exc: QrError, param: str | None) -> ApiError:
    return ApiError(400, str(exc.code), exc.message, param=param)


def _decode(payload: Any, strict: bool = False) -> emv.Decoded:
    if not isinstance(payload, str):
        raise parameter_invalid("payload", "`payload` must be a string: the text in the QR code.")
    try:
        return emv.decode(payload, strict=strict)
    except QrError as exc:
        raise _qr_error(exc, "payload") from None


@router.post(
    "/decode",
    summary="Decode a merchant-presented QR payload (every tag, CRC verified)",
    response_model=QrPayload,
    responses=schemas.errors(400, 401, 413, 503, bad=DECODE_400),
    openapi_extra={"requestBody": _inline(DecodeRequest)},
)
def decode(body: Annotated[Any, Depends(json_body)]) -> Response:
    """The payload's tags, nested templates too; a refused payload is a 400 with the reason."""
    fields = _object(body, None, frozenset(DecodeRequest.model_fields))
    strict = fields.get("strict", False)
    if not isinstance(strict, bool):
        raise parameter_invalid("strict", "`strict` must be true or false.")
    decoded = _decode(fields.get("payload"), strict)
    return render.json_response(qr_render.as_dict(decoded))


@router.post(
    "/encode",
    summary="Build a merchant-presented QR payload from fields",
    response_model=QrCode,
    responses=schemas.errors(400, 401, 413, 503, bad=ENCODE_400),
    openapi_extra={"requestBody": _inline(EncodeRequest)},
)
def encode(body: Annotated[Any, Depends(json_body)]) -> Response:
    """Amounts are integer minor units; the answer's payload carries its CRC."""
    spec = _merchant(_object(body, None, frozenset(EncodeRequest.model_fields)))
    try:
        payload = build(spec)
    except QrError as exc:
        raise _qr_error(exc, exc.field) from None
    return render.json_response(qr_render.qr_code(payload))


def _merchant(b: dict[str, Any]) -> MerchantQr:
    for key in ("merchant_name", "merchant_city", "country", "mcc", "currency", "accounts"):
        if b.get(key) is None:
            raise parameter_invalid(key, f"`{key}` is required.")
    accounts = b["accounts"]
    if not isinstance(accounts, list) or not accounts:
        raise parameter_invalid("accounts", "`accounts` must be a non-empty list of objects.")
    extra = b.get("additional_data")
    if extra is not None:
        extra = AdditionalData(**_object(extra, "additional_data", _ADDITIONAL_KEYS))
    alt = b.get("alternate_language")
    if alt is not None:
        alt = _language(_object(alt, "alternate_language", _LANGUAGE_KEYS))
    return MerchantQr(
        merchant_name=b["merchant_name"], merchant_city=b["merchant_city"],
        country=b["country"], mcc=b["mcc"], currency=b["currency"],
        accounts=tuple(_account(a, f"accounts[{i}]") for i, a in enumerate(accounts)),
        amount_minor=b.get("amount"), point_of_initiation=b.get("point_of_initiation"),
        postal_code=b.get("postal_code"), additional=extra, alternate_language=alt,
    )  # fmt: skip


_ADDITIONAL_KEYS = frozenset(AdditionalSpec.model_fields)
_LANGUAGE_KEYS = frozenset(LanguageSpec.model_fields)
_ACCOUNT_KEYS = frozenset(AccountSpec.model_fields)


def _language(alt: dict[str, Any]) -> AlternateLanguage:
    if "language" not in alt or "merchant_name" not in alt:
        raise parameter_invalid(
            "alternate_language", "`alternate_language` needs `language` and `merchant_name`."
        )
    return AlternateLanguage(alt["language"], alt["merchant_name"], alt.get("merchant_city"))


def _account(raw: Any, param: str) -> AccountIn:
    acc = _object(raw, param, _ACCOUNT_KEYS)
    value, subs = acc.get("value"), acc.get("fields")
    if subs is not None and not isinstance(subs, dict):
        raise parameter_invalid(f"{param}.fields", f'`{param}.fields` must be {{"01": "..."}}.')
    items = [("01", value)] if value is not None else []
    items += sorted((subs or {}).items())
    if not items:
        raise parameter_invalid(param, f"`{param}` needs a `value` or `fields`.")
    tag = acc.get("tag")
    if tag is not None and not isinstance(tag, str):
        raise parameter_invalid(f"{param}.tag", f"`{param}.tag` must be a string, 26-51.")
    return AccountIn(acc.get("gui", ""), tuple(items), tag)


def _image(media_type: str) -> dict[int | str, dict[str, Any]]:
    ok = {"description": "the QR code", "content": {media_type: {"schema": {"type": "string"}}}}
    return {200: ok, **schemas.errors(400, 401, 503, bad=DECODE_400)}


PayloadQuery = Annotated[str, Query(description="the payload; it must decode")]
ScaleQuery = Annotated[int, Query(ge=1, le=MAX_SCALE, description="pixels per module")]


@router.get(
    "/image.svg",
    summary="The QR code of a payload, as SVG",
    response_class=Response,
    responses=_image("image/svg+xml"),
)
def image_svg(payload: PayloadQuery, scale: ScaleQuery = image.DEFAULT_SCALE) -> Response:
    decoded = _decode(payload)
    return Response(image.svg(decoded.payload, scale), media_type="image/svg+xml")


@router.get(
    "/image.png",
    summary="The QR code of a payload, as PNG",
    response_class=Response,
    responses=_image("image/png"),
)
def image_png(payload: PayloadQuery, scale: ScaleQuery = image.DEFAULT_SCALE) -> Response:
    decoded = _decode(payload)
    return Response(image.png(decoded.payload, scale), media_type="image/png")
