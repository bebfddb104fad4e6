"""The card vault: round trips, tamper detection, keys, and no card number in any output."""

import base64
import dataclasses
import logging
import os
import stat

import pytest
import sqlalchemy as sa

from rongpay.security.cards import CardDetails
from rongpay.security.store import insert_record, load_record, vault_table
from rongpay.security.vault import KEY_BYTES, Vault, VaultError, new_key_text
from rongpay.store.uow import unit_of_work

PAN = "4242424242424242"
CARD = CardDetails(PAN, 12, 2030, "123")


def vault() -> Vault:
    return Vault([os.urandom(KEY_BYTES)])


def test_seal_open_round_trip_drops_cvc():
    v = vault()
    record = v.seal(CARD)
    assert record.token.startswith("tok_")
    assert (record.brand, record.last4, record.exp_month, record.exp_year) == (
        "visa",
        "4242",
        12,
        2030,
    )
    opened = v.open(record)
    assert (opened.pan, opened.exp_month, opened.exp_year, opened.cvc) == (PAN, 12, 2030, None)


def test_ciphertext_and_token_differ_for_the_same_card_but_fingerprint_does_not():
    v = vault()
    a, b = v.seal(CARD), v.seal(CARD)
    assert a.ciphertext != b.ciphertext and a.nonce != b.nonce and a.token != b.token
    assert a.fingerprint == b.fingerprint
    assert PAN.encode() not in a.ciphertext


@pytest.mark.parametrize(
    "change",
    [
        lambda r: {"ciphertext": bytes([r.ciphertext[0] ^ 1]) + r.ciphertext[1:]},
        lambda r: {"nonce": bytes(12)},
        lambda r: {"token": "tok_" + "0" * 24},
        lambda r: {"last4": "1111"},
        lambda r: {"exp_year": 2031},
        lambda r: {"brand": "amex"},
    ],
)
def test_tampering_is_detected(change):
    v = vault()
    record = v.seal(CARD)
    with pytest.raises(VaultError) as info:
        v.open(dataclasses.replace(record, **change(record)))
    assert info.value.code == "vault_record_tampered"
    assert PAN not in str(info.value)


def test_unknown_key_and_rotation():
    old, new = os.urandom(KEY_BYTES), os.urandom(KEY_BYTES)
    record = Vault([old]).seal(CARD)
    with pytest.raises(VaultError) as info:
        Vault([new]).open(record)
    assert info.value.code == "vault_key_unknown"
    rotated = Vault([new, old])
    assert rotated.open(record).pan == PAN
    assert rotated.seal(CARD).key_id != record.key_id


def test_no_card_number_in_repr_str_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    v = vault()
    record = v.seal(CARD)
    opened = v.open(record)
    logging.getLogger("test").info("sealed %s %r as %s %r", CARD, CARD, record, record)
    logging.getLogger("test").info("opened %s %r and %r", opened, opened, v)
    texts = [repr(record), str(record), repr(opened), str(opened), repr(v), caplog.text]
    assert all(PAN not in t and "424242424242" not in t for t in texts)
    assert "****4242" in repr(record)


def test_key_from_env_and_bad_keys(monkeypatch):
    key = new_key_text()
    v = Vault.from_env(environ={"RONGPAY_VAULT_KEY": key})
    assert v.source == "env"
    record = v.seal(CARD)
    assert Vault.from_env(environ={"RONGPAY_VAULT_KEY": f"{new_key_text()},{key}"}).open(record)
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(VaultError) as info:
            Vault.from_env(environ={"RONGPAY_VAULT_KEY": bad})
        assert info.value.code == "vault_key_invalid"
        assert bad not in str(info.value)


def test_key_file_next_to_sqlite_database(tmp_path, caplog):
    db = f"sqlite:///{tmp_path / 'pay.db'}"
    first = Vault.from_env(db_url=db, environ={})
    path = tmp_path / "pay.db.vault-key"
    assert first.source == f"file:{path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "created a new card vault key file" in caplog.text
    record = first.seal(CARD)
    assert Vault.from_env(db_url=db, environ={}).open(record).pan == PAN


def test_key_file_named_by_env(tmp_path):
    path = tmp_path / "k"
    v = Vault.from_env(environ={"RONGPAY_VAULT_KEY_FILE": str(path)})
    assert v.source == f"file:{path}" and path.exists()
    path.write_text("garbage\n")
    with pytest.raises(VaultError) as info:
        Vault.from_env(environ={"RONGPAY_VAULT_KEY_FILE": str(path)})
    assert info.value.code == "vault_key_invalid"


def test_ephemeral_key_warns(caplog):
    v = Vault.from_env(db_url="postgresql://u@h/db", environ={})
    assert v.source == "ephemeral"
    assert "random key for this process only" in caplog.text


def test_records_round_trip_through_the_table(engine):
    v = vault()
    record = v.seal(CARD)
    with unit_of_work(engine) as conn:
        insert_record(conn, record)
    with unit_of_work(engine, write=False) as conn:
        loaded = load_record(conn, record.token)
        missing = load_record(conn, "tok_missing")
        stored = conn.execute(sa.select(vault_table)).all()
    assert loaded == record and missing is None
    assert PAN not in repr(stored)
    assert v.open(loaded).pan == PAN
