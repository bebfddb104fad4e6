"""KYC: tier limits as a pure function; document checks that really validate."""

from __future__ import annotations

from datetime import date

import pytest

from rongpay.compliance.aml_params import RiskRating
from rongpay.compliance.documents import (
    check_cn_resident_id,
    check_iban,
    check_passport_mrz,
    mrz_check_digit,
)
from rongpay.compliance.errors import InvalidInput
from rongpay.compliance.kyc import (
    LimitReason,
    SpendTotals,
    Tier,
    check_limit,
    load_ratings,
    parse_tier,
)

LOW, HIGH = RiskRating.LOW, RiskRating.HIGH


@pytest.mark.parametrize(
    ("tier", "rating", "spent", "amount", "currency", "reason"),
    [
        (Tier.BASIC, LOW, SpendTotals(), 500_000, "CNY", None),
        (Tier.BASIC, LOW, SpendTotals(), 500_001, "CNY", LimitReason.EXCEEDS_TRANSACTION_LIMIT),
        (Tier.BASIC, HIGH, SpendTotals(), 300_000, "CNY", LimitReason.EXCEEDS_TRANSACTION_LIMIT),
        (
            Tier.BASIC,
            LOW,
            SpendTotals(600_000, 600_000),
            450_000,
            "CNY",
            LimitReason.EXCEEDS_DAILY_LIMIT,
        ),
        (
            Tier.BASIC,
            LOW,
            SpendTotals(0, 9_800_000),
            300_000,
            "CNY",
            LimitReason.EXCEEDS_YEARLY_LIMIT,
        ),
        (Tier.UNVERIFIED, LOW, SpendTotals(), 100, "USD", None),  # 7.10 CNY
        (Tier.UNVERIFIED, LOW, SpendTotals(), 10_000, "USD", LimitReason.EXCEEDS_TRANSACTION_LIMIT),
        (Tier.FULL, LOW, SpendTotals(), 0, "CNY", LimitReason.INVALID_AMOUNT),
        (Tier.FULL, LOW, SpendTotals(), 100, "XYZ", LimitReason.UNKNOWN_CURRENCY),
        (Tier.FULL, LOW, SpendTotals(), 100_000, "JPY", None),  # 4,700 CNY; JPY has no decimals
    ],
)
def test_check_limit(tier, rating, spent, amount, currency, reason):
    decision = check_limit(tier, rating, spent, amount, currency)
    assert decision.reason == reason and decision.allowed is (reason is None)


def test_tier_and_ratings_parsing(tmp_path):
    assert parse_tier("FULL") is Tier.FULL
    with pytest.raises(InvalidInput):
        parse_tier("gold")
    good = tmp_path / "r.csv"
    good.write_text("account,rating\na,high\nb,Medium\n", encoding="utf-8")
    assert load_ratings(good) == {"a": RiskRating.HIGH, "b": RiskRating.MEDIUM}
    bad = tmp_path / "bad.csv"
    bad.write_text("a,high\nb\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="line 2"):
        load_ratings(bad)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("11010519491231002X", None),
        ("11010519491231002x", None),
        ("110105194912310021", "bad_check_digit"),
        ("11010519491331002X", "bad_birth_date"),
        ("99010519491231002X", "bad_region"),
        ("1101051949123100", "bad_format"),
        ("11010520991231002X", "bad_birth_date"),
    ],
)
def test_cn_resident_id(number, reason):
    result = check_cn_resident_id(number, today=date(2026, 11, 25))
    assert result.reason == reason and result.valid is (reason is None)


SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
)


def test_passport_mrz_icao_specimen():
    result = check_passport_mrz(SPECIMEN)
    assert result.valid, result.message
    assert result.fields["surname"] == "ERIKSSON" and result.fields["given_names"] == "ANNA MARIA"
    assert mrz_check_digit("L898902C3") == "6"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda s: s.replace("L898902C36", "L898902C46"), "bad_check_digit"),
        (lambda s: s.replace("7408122", "7408132"), "bad_check_digit"),
        (lambda s: s[:-1] + "1", "bad_check_digit"),
        (lambda s: s[:40], "bad_format"),
        (lambda s: "X" + s[1:], "bad_format"),
    ],
)
def test_passport_mrz_rejects(mutate, reason):
    assert check_passport_mrz(mutate(SPECIMEN)).reason == reason


def test_iban():
    assert check_iban("DE89 3704 0044 0532 0130 00").valid
    assert check_iban("GB82 WEST 1234 5698 7654 32").fields["country"] == "GB"
    assert check_iban("DE89 3704 0044 0532 0130 01").reason == "invalid_iban"
    assert not check_iban("not an iban").valid


def test_rate_customer_highest_factor_wins():
    from rongpay.compliance.kyc import CustomerProfile, rate_customer

    settled = CustomerProfile("CN", Tier.FULL, account_age_days=400)
    assert rate_customer(settled) == (RiskRating.LOW, [])
    rating, reasons = rate_customer(CustomerProfile("VN", Tier.BASIC, account_age_days=5))
    assert rating is RiskRating.MEDIUM and len(reasons) == 2
    rating, reasons = rate_customer(
        CustomerProfile("IR", Tier.UNVERIFIED, pep=True, account_age_days=5)
    )
    assert rating is RiskRating.HIGH
    assert reasons == ["resident of IR (FATF call for action)", "politically exposed person"]
    jeweller = CustomerProfile("CN", Tier.FULL, mcc="5944", account_age_days=400)
    assert rate_customer(jeweller)[0] is RiskRating.MEDIUM
    reported = CustomerProfile("CN", Tier.FULL, account_age_days=400, reported_cases=1)
    assert rate_customer(reported)[0] is RiskRating.HIGH
