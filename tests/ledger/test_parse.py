"""Shape checks: each malformed field gets its precise code, in precedence order."""

import pytest

from rongpay.ledger.parse import parse_account, parse_transfer
from rongpay.ledger.types import parse_id, render_id

OK = {"id": 1, "debit_account_id": 1, "credit_account_id": 2, "amount": 5}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({}, "ok"),
        ({"id": 0}, "id_invalid"),
        ({"id": -3}, "id_invalid"),
        ({"id": 2**63}, "id_invalid"),
        ({"id": "has space"}, "id_invalid"),
        ({"id": True}, "id_invalid"),
        ({"id": 1.5}, "id_invalid"),
        ({"id": "x" * 65}, "id_invalid"),
        ({"id": None}, "id_invalid"),
        ({"flags": ["nope"]}, "flags_invalid"),
        ({"flags": "pending"}, "flags_invalid"),
        ({"flags": ["pending", "void_pending"]}, "flags_are_mutually_exclusive"),
        ({"debit_account_id": "bad id"}, "debit_account_id_invalid"),
        ({"debit_account_id": None}, "debit_account_id_invalid"),
        ({"credit_account_id": []}, "credit_account_id_invalid"),
        ({"credit_account_id": 1}, "accounts_must_be_different"),
        ({"credit_account_id": "1"}, "accounts_must_be_different"),
        ({"pending_id": 7}, "pending_id_not_allowed"),
        ({"timeout": -1}, "timeout_invalid"),
        ({"timeout": "5"}, "timeout_invalid"),
        ({"timeout": 5}, "timeout_reserved_for_pending_transfer"),
        ({"code": "bad code!"}, "code_invalid"),
        ({"user_data": 5}, "user_data_invalid"),
        ({"user_data": "a\x00b"}, "user_data_invalid"),
        ({"user_data": "\ud800"}, "user_data_invalid"),
        ({"user_data": "x" * 257}, "user_data_invalid"),
        ({"amount": -1}, "amount_invalid"),
        ({"amount": "5"}, "amount_invalid"),
        ({"amount": 5.0}, "amount_invalid"),
        ({"amount": True}, "amount_invalid"),
        ({"amount": 0}, "amount_must_not_be_zero"),
        ({"amount": None}, "amount_must_not_be_zero"),
        ({"amount": 2**63}, "amount_overflow"),
        ({"ledger": "XXX"}, "ledger_invalid"),
        ({"ledger": ["USD"]}, "ledger_invalid"),
        ({"id": 0, "amount": -1}, "id_invalid"),  # precedence: the id is judged first
    ],
)
def test_transfer_shape_codes(change, code):
    _, result, _ = parse_transfer({**OK, **change})
    assert result == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ({"id": 3, "pending_id": 1, "flags": ["post_pending"]}, "ok"),
        ({"id": 3, "flags": ["post_pending"]}, "pending_id_required"),
        ({"id": 3, "pending_id": "bad id", "flags": ["void_pending"]}, "pending_id_invalid"),
        ({"id": 3, "pending_id": 3, "flags": ["void_pending"]}, "pending_id_must_be_different"),
        ({"id": 3, "pending_id": 1, "flags": ["post_pending"], "amount": -1}, "amount_invalid"),
    ],
)
def test_two_phase_shape_codes(raw, code):
    assert parse_transfer(raw)[1] == code


def test_not_an_object():
    assert parse_transfer([1, 2])[1] == "id_invalid"
    assert parse_account("x")[1] == "id_invalid"


def test_linked_is_reported_even_when_malformed():
    assert parse_transfer({"id": 0, "flags": ["linked"]})[2] is True


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ({"id": 1, "ledger": "USD", "code": "wallet"}, "ok"),
        ({"id": 1, "ledger": "USD", "code": "wallet", "flags": ["linked"]}, "ok"),
        ({"id": "a b", "ledger": "USD", "code": "w"}, "id_invalid"),
        ({"id": 1, "ledger": "USD", "code": "w", "flags": ["x"]}, "flags_invalid"),
        (
            {
                "id": 1,
                "ledger": "USD",
                "code": "w",
                "flags": ["debits_must_not_exceed_credits", "credits_must_not_exceed_debits"],
            },
            "flags_are_mutually_exclusive",
        ),
        ({"id": 1, "ledger": "usd", "code": "w"}, "ledger_invalid"),
        ({"id": 1, "ledger": "USD"}, "code_invalid"),
        ({"id": 1, "ledger": "USD", "code": "w", "owner": ""}, "owner_invalid"),
        ({"id": 1, "ledger": "USD", "code": "w", "owner": "a\x00"}, "owner_invalid"),
    ],
)
def test_account_shape_codes(raw, code):
    assert parse_account(raw)[1] == code


def test_ids_render_back_as_given_kind():
    assert parse_id(7) == parse_id("7") == "7"
    assert render_id("7") == 7
    assert render_id("007") == "007"
    assert render_id("acc_1") == "acc_1"
    assert parse_id("0") is None


def test_trailing_newline_is_not_part_of_a_valid_id():
    assert parse_id("abc\n") is None
    assert parse_id("a" * 64 + "\n") is None
    assert parse_transfer({**OK, "code": "x\n"})[1] == "code_invalid"
