"""Screening: a table of name variants that must and must not match the sample list."""

from __future__ import annotations

import pytest

from rongpay.compliance.errors import InvalidInput
from rongpay.compliance.names import name_forms, skeleton
from rongpay.compliance.screening import Query
from rongpay.compliance.screening_service import (
    ScreeningDecision,
    ScreenOptions,
    load_screener,
    screen_name,
    screen_party,
)


@pytest.fixture(scope="module")
def screener():
    return load_screener()


MUST_MATCH = [
    # (screened name, listed id, what it exercises)
    ("Xi Jinping", "rp-0005", "exact"),
    ("习近平", "rp-0005", "Chinese characters to pinyin"),
    ("XI JIN PING", "rp-0005", "case and syllable spacing"),
    ("Jinping Xi", "rp-0005", "token order"),
    ("Xi Jinpin", "rp-0005", "typo"),
    ("王芳", "rp-0021", "Chinese characters to a Latin-only entry"),
    ("Ouyang Feifei", "rp-0009", "compound surname"),
    ("欧阳菲菲", "rp-0009", "compound surname in characters"),
    ("Li Xiao Long", "rp-0016", "Latin to a Chinese-only alias"),
    ("Vladimir Putin", "rp-0001", "missing middle name"),
    ("Владимир Путин", "rp-0001", "Cyrillic"),
    ("Wladimir Putin", "rp-0001", "German transliteration"),
    ("V. V. Putin", "rp-0001", "initials"),
    ("Vladimr Putn", "rp-0001", "two typos"),
    ("Putin, Vladimir Vladimirovich", "rp-0001", "surname first with comma"),
    ("Bashar al-Assad", "rp-0002", "exact with particle"),
    ("Basher al Asad", "rp-0002", "vowel and doubling variants"),
    ("بشار الأسد", "rp-0002", "Arabic script"),
    ("Bashar Assad", "rp-0002", "particle dropped"),
    ("Kim Jong-un", "rp-0003", "hyphen"),
    ("Kim Jung Un", "rp-0003", "romanisation variant"),
    ("김정은", "rp-0003", "Hangul"),
    ("Alexander Lukaschenko", "rp-0004", "alias with a typo"),
    ("Лукашенко Александр", "rp-0004", "Cyrillic, reversed"),
    ("Mohamed bin Salman", "rp-0006", "spelling variant"),
    ("محمد بن سلمان", "rp-0006", "Arabic script, vowel-less"),
    ("Abdulrahman Haddad", "rp-0010", "joined name, doubled letter"),
    ("عبد الرحمن يوسف حداد", "rp-0010", "Arabic script, full"),
    ("Hussein Karimi", "rp-0011", "alias"),
    ("maría elena castillo ortega", "rp-0012", "accents and case"),
    ("Maria Castillo", "rp-0012", "two middle names missing"),
    ("Dimitri Sokolov", "rp-0023", "transliteration variant"),
    ("Nguyễn Văn Thành", "rp-0014", "Vietnamese diacritics"),
    ("Sevmorput Trading LLC", "rp-0017", "organisation, other legal form"),
    ("Golden Crescent General Trading", "rp-0018", "organisation without legal form"),
    ("Golden Crescent Trading LLC", "rp-0018", "organisation alias, another legal form"),
    ("Ahmad Hasan Masri", "rp-0022", "article dropped, spelling"),
    ("Abd al-Rahman Youssef Haddad", "rp-0010", "abd al- as one name"),
    ("Abdel Rahman Youssef Haddad", "rp-0010", "abdel as abdul"),
    ("فلاديمير بوتين", "rp-0001", "Arabic script: long vowels, no p"),
]

MUST_NOT_MATCH = [
    ("John Smith", "unrelated"),
    ("Putin", "one shared token of three"),
    ("Ivan Petrov", "common name, not listed"),
    ("Zhang Wei", "Zhang Weimin is a different given name"),
    ("Chen Jian", "Chen Jianguo is a different given name"),
    ("Wang Fei", "different pinyin given name"),
    ("Bruce Lee", "English name of Li Xiaolong is not an alias on the list"),
    ("Maria Lopez", "shares only a first name"),
    ("Vladimir Sokolov", "first name of one entry, surname of another"),
    ("Golden Dragon Restaurant", "one generic word of an organisation"),
    ("Golden Trading", "one distinctive word and a generic one"),
    ("Maria Elena Lopez Ortega", "another surname where the list has Castillo"),
    ("Hassan Hososon", "same consonants, different letters (not a transliteration)"),
    ("Ahmed Hassan", "Ahmed Hassan Al-Masri without the family name"),
    ("Sanjay Kumar", "Sanjay Kumar Mehta without the family name"),
    ("Jean Pierre", "given names of Jean-Pierre Mbala Kasongo only"),
    ("Maria Elena", "given names of Maria Elena Castillo Ortega only"),
    ("Kim Un", "half of Kim Jong Un's given name"),
    ("Wang Feng", "Wang Fang: another pinyin given name, not a typo"),
    ("Li Xiaoling", "Li Xiaolong: another pinyin given name, not a typo"),
]


@pytest.mark.parametrize(("name", "listed", "why"), MUST_MATCH)
def test_variant_matches(screener, name, listed, why):
    matches = screen_name(screener, name, ScreenOptions())
    assert matches, why
    assert matches[0].entry.id == listed, (why, matches[0])
    assert matches[0].is_match, (why, matches[0].score, matches[0].explanation)
    assert matches[0].explanation


@pytest.mark.parametrize(("name", "why"), MUST_NOT_MATCH)
def test_variant_does_not_match(screener, name, why):
    matches = screen_name(screener, name, ScreenOptions())
    assert not any(m.is_match for m in matches), (why, matches)


def test_matches_are_best_first_and_within_floor(screener):
    matches = screen_name(screener, "Ahmad Hassan", ScreenOptions(floor=0.5, limit=10))
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(0.5 <= s <= 1.0 for s in scores)


def test_birth_date_and_country_break_ties(screener):
    plain = screen_name(screener, "Ivan Draganow", ScreenOptions())[0]
    agree = screen_name(
        screener, "Ivan Draganow", ScreenOptions(birth_date="1971-03", country="ru")
    )[0]
    differ = screen_name(screener, "Ivan Draganow", ScreenOptions(birth_date="1990"))[0]
    assert agree.score > plain.score > differ.score
    assert "birth date 1971-03 agrees" in agree.explanation
    assert "differs" in differ.explanation


def test_threshold_decides_match(screener):
    strict = screen_name(screener, "Basher al Asad", ScreenOptions(threshold=0.99))
    assert strict and not strict[0].is_match


def test_screen_party_holds_on_a_hit(screener):
    assert screen_party(screener, "Vladimir Putin").decision is ScreeningDecision.HOLD
    assert screen_party(screener, "Grace Hopper").decision is ScreeningDecision.CLEAR


@pytest.mark.parametrize("bad", ["", "   ", "!!!", "x" * 501])
def test_empty_or_letterless_name_is_rejected(screener, bad):
    with pytest.raises(InvalidInput):
        screen_name(screener, bad, ScreenOptions())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"birth_date": "1971/03/02"},
        {"country": "Russia"},
        {"country": "ZZ"},
        {"threshold": 0.5, "floor": 0.6},
        {"limit": 0},
    ],
)
def test_bad_options_are_rejected(kwargs):
    with pytest.raises(InvalidInput):
        ScreenOptions.build(**kwargs)


def test_skeleton_merges_vowelless_transliterations():
    assert skeleton("mohammed") == skeleton("muhammad") == skeleton("mhmd")
    assert skeleton("aleksandr") == skeleton("alexandr")


def test_chinese_names_give_grouped_and_syllable_forms():
    forms = name_forms("习近平")
    assert forms[0].tokens == ("xi", "jinping")
    assert forms[1].tokens == ("xi", "jin", "ping") and forms[1].syllabic


def test_query_dataclass_defaults():
    assert Query("a").birth_date is None


def test_cross_border_payments_screen_the_counterparty(screener):
    from rongpay.compliance.screening_service import screen_cross_border

    domestic = screen_cross_border(
        screener, payer_country="CN", payee_country="CN", counterparty_name="Vladimir Putin"
    )
    assert domestic.decision is ScreeningDecision.CLEAR
    abroad = screen_cross_border(
        screener, payer_country="CN", payee_country="RU", counterparty_name="Vladimir Putin"
    )
    assert abroad.decision is ScreeningDecision.HOLD
    unknown = screen_cross_border(
        screener, payer_country=None, payee_country="CN", counterparty_name="Wladimir Putin"
    )
    assert unknown.decision is ScreeningDecision.HOLD
