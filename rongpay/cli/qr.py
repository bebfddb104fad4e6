"""`rongpay qr decode|encode`: EMVCo merchant-presented QR payloads from the command line.

Thin: parse the arguments, call rongpay.qr, print. A refused payload exits 1 with its reason
code; bad arguments (including fields a payload cannot carry) exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rongpay.cli.common import CliError

EXIT_REJECTED = 1
EXIT_USAGE = 2

ADDITIONAL_OPTIONS = (
    ("--bill-number", "bill_number"),
    ("--mobile", "mobile_number"),
    ("--store", "store_label"),
    ("--loyalty", "loyalty_number"),
    ("--reference", "reference_label"),
    ("--customer", "customer_label"),
    ("--terminal", "terminal_label"),
    ("--purpose", "purpose"),
)


def register(commands: Any, bench: Any) -> None:
    """Add the `qr` parser."""
    qr = commands.add_parser("qr", help="EMVCo merchant-presented QR codes: decode, encode")
    sub = qr.add_subparsers(dest="qr_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("decode", help="print every tag and whether the CRC holds; exit 1 if not")
    p.add_argument("payload", metavar="PAYLOAD", help="the text in the QR code; - reads stdin")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--strict", action="store_true", help="also refuse EMV conformance breaches")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("encode", help="build a payload (CRC included) and print it")
    p.add_argument("--name", required=True, help="merchant name (tag 59, up to 25 characters)")
    p.add_argument("--city", required=True, help="merchant city (tag 60, up to 15)")
    p.add_argument("--country", required=True, help="ISO 3166 alpha-2, e.g. CN")
    p.add_argument("--mcc", required=True, help="merchant category code, 4 digits")
    p.add_argument("--currency", required=True, help="ISO 4217, alphabetic or numeric")
    p.add_argument("--amount", help="in major units, e.g. 12.34 (makes the code dynamic)")
    p.add_argument(
        "--account", action="append", default=[], metavar="GUI:VALUE",
        help="merchant account: network id and merchant id (sub-tag 01); repeatable",
    )  # fmt: skip
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--static", dest="initiation", action="store_const", const="static")
    kind.add_argument("--dynamic", dest="initiation", action="store_const", const="dynamic")
    p.add_argument("--postal-code")
    for option, dest in ADDITIONAL_OPTIONS:
        p.add_argument(option, dest=dest, help="additional data (tag 62)")
    p.add_argument("--alt-language", metavar="LL", help="language template 64, e.g. ZH")
    p.add_argument("--alt-name", help="merchant name in that language")
    p.add_argument("--alt-city", help="merchant city in that language")
    image = p.add_mutually_exclusive_group()
    image.add_argument("--svg", metavar="FILE", help="also write the QR code as SVG")
    image.add_argument("--png", metavar="FILE", help="also write the QR code as PNG")
    p.add_argument("--json", action="store_true", help="print a JSON object, not the payload")
    p.set_defaults(func=cmd_encode)


def cmd_decode(args: argparse.Namespace) -> int:
    from rongpay.qr import emv, render
    from rongpay.qr.errors import QrError

    payload = sys.stdin.read() if args.payload == "-" else args.payload
    payload = payload.strip()  # a trailing newline from echo or a file is not payload
    try:
        decoded = emv.decode(payload, strict=args.strict)
    except QrError as exc:
        if args.json:
            error = {"code": str(exc.code), "message": exc.message, "tag": exc.tag,
                     "position": exc.position}  # fmt: skip
            print(_dumps({"crc_valid": render.crc_valid(exc.code), "error": error}))
        raise CliError(f"{exc.code}: {exc.message}", EXIT_REJECTED) from None
    if args.json:
        print(_dumps(render.as_dict(decoded)))
    else:
        print("\n".join(render.lines(decoded)))
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from rongpay.qr import image, render
    from rongpay.qr.errors import QrError
    from rongpay.qr.merchant import build

    try:
        payload = build(_fields(args))
    except QrError as exc:
        raise CliError(f"{exc.code}: {exc.message}", EXIT_USAGE) from None
    if args.svg or args.png:
        path, data = (args.svg, image.svg(payload)) if args.svg else (args.png, image.png(payload))
        try:
            Path(path).write_bytes(data)
        except OSError as exc:
            raise CliError(f"cannot write {path}: {exc.strerror}") from None
    print(_dumps(render.qr_code(payload)) if args.json else payload)
    return 0


def _fields(args: argparse.Namespace) -> Any:
    from rongpay.qr import amount
    from rongpay.qr.errors import QrError
    from rongpay.qr.merchant import AdditionalData, AlternateLanguage, MerchantQr

    cur = amount.lookup(args.currency.strip().upper())
    if cur is None:
        raise CliError(f"--currency: {args.currency!r} is not an ISO 4217 currency code")
    minor = None
    if args.amount is not None:
        try:
            minor = amount.to_minor(args.amount.strip(), cur, tag="--amount")
        except QrError as exc:
            raise CliError(exc.message.replace("tag --amount", "--amount")) from None
    extra = {name: getattr(args, name) for _, name in ADDITIONAL_OPTIONS}
    alt = None
    if args.alt_language or args.alt_name or args.alt_city:
        if not (args.alt_language and args.alt_name):
            raise CliError("--alt-language and --alt-name go together (--alt-city optional)")
        alt = AlternateLanguage(args.alt_language, args.alt_name, args.alt_city)
    return MerchantQr(
        merchant_name=args.name, merchant_city=args.city, country=args.country, mcc=args.mcc,
        currency=cur.code, accounts=tuple(_account(a) for a in args.account),
        amount_minor=minor, point_of_initiation=args.initiation, postal_code=args.postal_code,
        additional=AdditionalData(**extra) if any(extra.values()) else None,
        alternate_language=alt,
    )  # fmt: skip


def _account(text: str) -> Any:
    from rongpay.qr.merchant import Account

    gui, sep, value = text.partition(":")
    if not sep or not gui or not value:
        raise CliError(f"--account {text!r}: write GUI:VALUE, e.g. br.gov.bcb.pix:alice@example")
    return Account(gui, (("01", value),))


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)
