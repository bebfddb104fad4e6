"""The card vault: card numbers become tokens, and only the vault can turn a token back.

Why: the gateway must keep a card to capture or refund it later, but a stored card number is
the most valuable thing an attacker can find. So the number and expiry are sealed with AES-GCM
(256-bit key, 96-bit random nonce per record); what is stored is a token, the ciphertext and the
harmless parts (brand, last four digits, expiry, an HMAC fingerprint). The CVC is never stored.
The token and key id are bound to the ciphertext as associated data, so moving a ciphertext to
another record, or editing the stored last four or expiry, makes `open` fail.

Keys (see docs/reference/cards.md, "Vault keys"), first match wins:

1. `RONGPAY_VAULT_KEY`: base64 of 32 bytes; several keys separated by commas during a rotation
   (the first seals, all open).
2. `RONGPAY_VAULT_KEY_FILE`, or, for a SQLite database file, `<database>.vault-key` next to it:
   a file holding the base64 key. When missing it is created with a fresh random key, mode 0600,
   and a warning is logged once (back it up with the database).
3. Otherwise (PostgreSQL or in-memory SQLite without 1 or 2): a random key for this process only,
   with a warning: tokens die with the process.

`seal` and `open` are pure crypto; the table and its reads/writes live in `security.store`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rongpay.security.cards import CardDetails, brand, fingerprint, last4

log = logging.getLogger(__name__)

ENV_KEY = "RONGPAY_VAULT_KEY"
ENV_KEY_FILE = "RONGPAY_VAULT_KEY_FILE"
KEY_BYTES = 32
NONCE_BYTES = 12
MAX_KEYS = 8  # keys held at once during a rotation
KEY_FILE_SUFFIX = ".vault-key"


class VaultError(Exception):
    """A record cannot be opened (tampered, or sealed with a key we do not hold), or a key is
    unusable. `code` is stable; messages never contain key material or card data."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True, repr=False)
class VaultRecord:
    """What the vault stores for one card; nothing here reveals the card number."""

    token: str
    key_id: str
    nonce: bytes
    ciphertext: bytes
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str

    def __repr__(self) -> str:
        return f"VaultRecord({self.token}, {self.brand} ****{self.last4}, key {self.key_id})"


def key_id(key: bytes) -> str:
    """A short public name for KEY (a hash prefix), stored with each record."""
    return "k" + hashlib.sha256(b"rongpay-vault-key-id:" + key).hexdigest()[:12]


def decode_key(text: str, source: str) -> bytes:
    """The 32 raw bytes from base64 TEXT; VaultError (naming SOURCE, never the value) if not."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise VaultError("vault_key_invalid", f"{source} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise VaultError(
            "vault_key_invalid", f"{source} must be base64 of {KEY_BYTES} bytes, not {len(key)}"
        )
    return key


def new_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


class Vault:
    """Seals cards into records and opens them again with the keys it holds."""

    __slots__ = ("_fingerprint_key", "_keys", "_sealing", "source")

    def __init__(self, keys: Sequence[bytes], *, source: str = "given") -> None:
        assert keys and len(keys) <= MAX_KEYS and all(len(k) == KEY_BYTES for k in keys)
        self._keys = {key_id(k): AESGCM(k) for k in keys}
        self._sealing = key_id(keys[0])
        # Fingerprints use a key derived from the sealing key, never the key itself.
        self._fingerprint_key = hmac.new(keys[0], b"rongpay-fingerprint", hashlib.sha256).digest()
        self.source = source  # where the key came from: env, file:PATH, ephemeral

    def __repr__(self) -> str:
        return f"Vault(key {self._sealing} from {self.source})"

    @classmethod
    def from_env(
        cls, *, db_url: str | None = None, environ: Mapping[str, str] | None = None
    ) -> Vault:
        """The vault for this process, its keys found as the module docstring says. DB_URL is
        the database the records go to (default: $RONGPAY_DB, else ./rongpay.db)."""
        env = os.environ if environ is None else environ
        given = env.get(ENV_KEY, "").strip()
        if given:
            parts = [p for p in given.split(",") if p.strip()]
            if len(parts) > MAX_KEYS:
                raise VaultError("vault_key_invalid", f"{ENV_KEY} holds more than {MAX_KEYS} keys")
            return cls([decode_key(p, ENV_KEY) for p in parts], source="env")
        path = _key_file_path(env, db_url)
        if path is not None:
            return cls([_read_or_create_key_file(path)], source=f"file:{path}")
        log.warning(
            "no %s and no key file for this database: the card vault uses a random key for this "
            "process only, so card tokens cannot be opened after a restart",
            ENV_KEY,
        )
        return cls([secrets.token_bytes(KEY_BYTES)], source="ephemeral")

    def fingerprint(self, pan: str) -> str:
        return fingerprint(pan, self._fingerprint_key)

    def seal(self, card: CardDetails) -> VaultRecord:
        """A new record for CARD (a new token and nonce every time; the CVC is dropped)."""
        token = "tok_" + secrets.token_hex(12)
        nonce = secrets.token_bytes(NONCE_BYTES)
        plain = f"{card.pan}|{card.exp_month:02d}|{card.exp_year:04d}".encode()
        sealed = self._keys[self._sealing].encrypt(nonce, plain, _aad(token, self._sealing))
        return VaultRecord(
            token=token,
            key_id=self._sealing,
            nonce=nonce,
            ciphertext=sealed,
            brand=brand(card.pan),
            last4=last4(card.pan),
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            fingerprint=self.fingerprint(card.pan),
        )

    def open(self, record: VaultRecord) -> CardDetails:
        """The card in RECORD (cvc None), or VaultError if the record was altered in any way or
        was sealed with a key this vault does not hold."""
        aead = self._keys.get(record.key_id)
        if aead is None:
            raise VaultError(
                "vault_key_unknown", f"record {record.token} was sealed with an unknown key"
            )
        try:
            plain = aead.decrypt(record.nonce, record.ciphertext, _aad(record.token, record.key_id))
        except (InvalidTag, ValueError):
            raise VaultError(
                "vault_record_tampered", f"record {record.token} fails its check"
            ) from None
        pan, month, year = plain.decode().split("|")
        card = CardDetails(pan=pan, exp_month=int(month), exp_year=int(year), cvc=None)
        if (last4(pan), card.exp_month, card.exp_year, brand(pan)) != (
            record.last4,
            record.exp_month,
            record.exp_year,
            record.brand,
        ):
            raise VaultError(
                "vault_record_tampered", f"record {record.token} does not match its ciphertext"
            )
        return card


def _aad(token: str, kid: str) -> bytes:
    return f"rongpay-vault|{token}|{kid}".encode()


def _key_file_path(env: Mapping[str, str], db_url: str | None) -> Path | None:
    explicit = env.get(ENV_KEY_FILE, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    url = db_url or env.get("RONGPAY_DB") or "sqlite:///rongpay.db"
    if "://" not in url:
        url = "sqlite:///" + url
    if not url.startswith("sqlite:///"):
        return None
    db_path = url.removeprefix("sqlite:///").split("?", 1)[0]
    if not db_path or db_path == ":memory:" or db_path.startswith("file:"):
        return None
    return Path(db_path).expanduser().with_name(Path(db_path).name + KEY_FILE_SUFFIX)


def _read_or_create_key_file(path: Path) -> bytes:
    """The key in PATH, creating the file (0600, exclusively) with a new key if missing."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(path)
    except OSError as exc:
        raise VaultError(
            "vault_key_file", f"cannot create the vault key file {path}: {exc.strerror}"
        ) from None
    with os.fdopen(fd, "w") as out:
        out.write(new_key_text() + "\n")
        out.flush()
        os.fsync(out.fileno())
    log.warning(
        "created a new card vault key file %s (mode 0600): back it up with the database; "
        "card tokens cannot be opened without it",
        path,
    )
    return _read_key_file(path)


def _read_key_file(path: Path) -> bytes:
    for _ in range(50):  # another process may be writing the file it just created
        try:
            text = path.read_text().strip()
        except OSError as exc:
            raise VaultError(
                "vault_key_file", f"cannot read the vault key file {path}: {exc.strerror}"
            ) from None
        if text:
            if path.stat().st_mode & 0o077:
                log.warning("the vault key file %s is readable by others: chmod 600 it", path)
            return decode_key(text, f"the vault key file {path}")
        time.sleep(0.01)
    raise VaultError("vault_key_file", f"the vault key file {path} is empty")
