"""Screening never crashes on arbitrary text: a list of matches, or InvalidInput."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rongpay.compliance.errors import InvalidInput
from rongpay.compliance.names import name_forms
from rongpay.compliance.screening import Query
from rongpay.compliance.screening_service import load_screener

SCREENER = load_screener()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_screens_or_is_rejected(text):
    try:
        matches = SCREENER.screen(Query(text))
    except InvalidInput:
        return
    assert all(0.0 <= m.score <= 1.0 for m in matches)
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(["Vladimir", "Putin", "Xi", "Jinping", "Bashar", "Assad"]),
        min_size=1,
        max_size=4,
    )
)
def test_token_order_does_not_change_the_best_score(tokens):
    forward = SCREENER.screen(Query(" ".join(tokens)))
    backward = SCREENER.screen(Query(" ".join(reversed(tokens))))
    assert [m.score for m in forward][:1] == [m.score for m in backward][:1]


def test_forms_are_ascii_lower_case():
    for form in name_forms("Åsa Öberg-Łukasiewicz 李小龙 Владимир"):
        assert all(t.isascii() and t == t.lower() for t in form.tokens)
