"""Name normalisation for screening: one comparable form for a name in any script.

A name on a sanctions list and a name typed at onboarding rarely agree letter for letter:
case, accents, scripts (Cyrillic, Arabic, Chinese), token order, particles ("bin", "al-"),
legal forms ("LLC", "OOO"). `name_forms` turns a name into one or more `NameForm`s (lower-case
ASCII tokens plus a consonant skeleton of each token) so that the scorer in `screening` only
has to compare tokens. Chinese characters go through pinyin (surname, then the given name as
one word: 习近平 -> "xi jinping", the usual Latin spelling) and a fully split variant.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii

_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_CJK_RUNS = re.compile(f"[{_CJK_CLASS}]+|[^{_CJK_CLASS}]+")
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f]")
_ARABIC_LETTERS = "\u0621-\u064a\u0671-\u06d3\u0750-\u077f"
# The article ال glued to a word (الأسد al-Asad, المصري al-Masri), not the ل of a word that
# starts with it (لطيف Latif): removed in Arabic script, before transliteration.
_ARABIC_ARTICLE = re.compile(f"(?<![{_ARABIC_LETTERS}])\u0627\u0644(?=[{_ARABIC_LETTERS}]{{2}})")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")

# Two-character Chinese surnames: the given name starts after them.
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "令狐",
        "澹台",
        "轩辕",
        "呼延",
        "端木",
    ]
)
# Particles that carry no identity: dropped on both sides, so "bin" present or absent agrees.
PARTICLES = frozenset(["al", "el", "bin", "ibn", "bint", "bn", "ben", "binti"])
NASAB = frozenset(["bin", "ibn", "bint", "bn", "ben", "binti"])  # "son/daughter of"
# "Servant of" names are one name however written: Abd al-Rahman, Abdel Rahman, Abdul Rahman,
# Abdurrahman, Abdelrahman all become "abdulrahman" (and Abd Allah, Abdallah "abdullah").
_ABD = frozenset(["abd", "abdel", "abdul", "abdal", "abdol", "abdoul", "abdu", "abdur", "abdel"])
_ABD_ARTICLES = frozenset(["al", "el", "ul", "ar", "ur", "as", "us", "an", "ad", "at", "az"])
_ABD_JOINED = re.compile(r"^abd(?:el|al|ul|ol|oul|ur|ar|u|a|e)?(?=[a-z]{3})")
# Inside a word, و and ي (ی in Persian) are mostly the long vowels u and i (بوتين Putin,
# فلاديمير Vladimir); anyascii writes them w and y, which no Latin spelling has there.
_ARABIC_LONG_VOWELS = re.compile(f"(?<=[{_ARABIC_LETTERS}])[\u0648\u064a\u06cc]")
_ARABIC_VOWEL_LATIN = {"\u0648": "u", "\u064a": "i", "\u06cc": "i"}
_ARABIC_ABD = re.compile("\u0639\u0628\u062f\\s+(?=\u0627\u0644)")  # عبد before ال
_PATRONYMIC = re.compile(r"(ovich|evich|ovitch|ievich|yevich|ovna|evna|ievna|yevna|ichna)$")
# Legal forms of organisations, dropped for every schema other than Person.
LEGAL_FORMS = frozenset(
    [
        "llc",
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "co",
        "corp",
        "corporation",
        "company",
        "ooo",
        "oao",
        "zao",
        "ao",
        "pao",
        "jsc",
        "pjsc",
        "ojsc",
        "cjsc",
        "gmbh",
        "ag",
        "sa",
        "plc",
        "llp",
        "lp",
        "bv",
        "nv",
        "srl",
        "spa",
        "fze",
        "fzco",
        "fzc",
        "the",
        "of",
        "and",
    ]
)
# Letter groups that sound alike across transliterations (Aleksandr/Alexander, Mikhail/Michael).
_SKELETON_REWRITES = (
    ("ph", "f"),
    ("p", "b"),  # Arabic has no p: Putin comes back as bwtyn / butin
    ("ck", "k"),
    ("kh", "h"),
    ("ch", "h"),
    ("sh", "s"),
    ("zh", "j"),
    ("dzh", "j"),
    ("x", "ks"),
    ("q", "k"),
    ("c", "k"),
    ("z", "s"),
    ("v", "f"),
    ("w", "f"),
)
_VOWELS = frozenset("aeiouy")
MAX_TOKENS = 12  # a name with more tokens is cut: no real name needs more


@dataclass(frozen=True, slots=True)
class NameForm:
    """A name as comparable tokens; `skeletons[i]` is the consonant skeleton of `tokens[i]`."""

    tokens: tuple[str, ...]
    skeletons: tuple[str, ...]
    syllabic: bool = False  # Chinese split into syllables: a missing syllable is a different name
    # Positions of the tokens that may be the family name: the last (and, from four tokens,
    # the one before: double surnames), the father's name after bin/ibn, the first of a
    # Chinese name. A name that pairs none of them is another person's given names.
    family: tuple[int, ...] = ()
    # Positions of patronymics (-ovich, -ovna, ...): routinely left out, they cost little.
    patronymic: tuple[int, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


@lru_cache(maxsize=65_536)
def skeleton(token: str) -> str:
    """Consonant skeleton: vowels dropped, similar sounds merged, doubles collapsed.

    Arabic written in Latin letters without vowels ("mhmd") and with them ("Mohammed",
    "Muhammad") share the skeleton "mhmd".
    """
    if token.isdigit():
        return token
    s = token
    for old, new in _SKELETON_REWRITES:
        s = s.replace(old, new)
    out: list[str] = []
    for ch in s:
        if ch in _VOWELS or (ch == "h" and out and out[-1] in "kgstdf"):
            continue
        if out and out[-1] == ch:
            continue
        out.append(ch)
    return "".join(out)


def _pinyin_words(chars: str) -> list[list[str]]:
    """Chinese name -> [[surname, given-as-one-word], [each syllable]] in pinyin."""
    from pypinyin import lazy_pinyin

    syllables = [s for s in lazy_pinyin(chars) if s.isalpha()]
    if not syllables:
        return []
    split = 2 if chars[:2] in COMPOUND_SURNAMES else 1
    grouped = ["".join(syllables[:split]), "".join(syllables[split:])]
    grouped = [g for g in grouped if g]
    variants = [grouped]
    if syllables != grouped:
        variants.append(syllables)
    return variants


def _ascii_tokens(text: str, *, arabic: bool) -> list[str]:
    if arabic:
        text = _ARABIC_ABD.sub("\u0639\u0628\u062f", text)  # عبد الرحمن: one word
        text = _ARABIC_ARTICLE.sub("", text)
        text = _ARABIC_LONG_VOWELS.sub(lambda m: _ARABIC_VOWEL_LATIN[m.group()], text)
    ascii_text = anyascii(_CAMEL.sub(" ", text)) if not text.isascii() else text
    ascii_text = _CAMEL.sub(" ", ascii_text).replace("'", "").replace("`", "")
    return _join_abd(_NON_ALNUM.sub(" ", ascii_text.lower()).split())


def _join_abd(tokens: list[str]) -> list[str]:
    """Abd al-Rahman / Abdel Rahman / Abdurrahman -> abdulrahman (see _ABD)."""
    if not any(t.startswith("abd") for t in tokens):
        return tokens
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in _ABD and i + 1 < len(tokens):
            j = i + 2 if tokens[i + 1] in _ABD_ARTICLES and i + 2 < len(tokens) else i + 1
            out.append("abdul" + tokens[j])
            i = j + 1
            continue
        out.append(_ABD_JOINED.sub("abdul", t))
        i += 1
    return out


def _without_symbols(text: str) -> str:
    """TEXT with symbols (emoji, trade marks, arrows) and control characters as spaces.

    anyascii spells symbols out ("grinning", "tm", "hearts"): they are not parts of a name.
    """
    if text.isascii():
        return text
    return "".join(" " if unicodedata.category(ch)[0] in "SC" else ch for ch in text)


def has_letters(text: str) -> bool:
    """At least one Unicode letter or digit: a name, not only symbols and punctuation."""
    return any(ch.isalnum() for ch in text)


def _clean(tokens: list[str], *, person: bool) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Tokens without particles (and legal forms), and the positions of fathers' names."""
    drop = PARTICLES if person else PARTICLES | LEGAL_FORMS
    kept: list[str] = []
    fathers: list[int] = []
    after_nasab = False
    for t in tokens:
        if t in drop:
            after_nasab = after_nasab or t in NASAB
            continue
        if after_nasab:
            fathers.append(len(kept))
        after_nasab = False
        kept.append(t)
    if not kept:
        return tuple(tokens[:MAX_TOKENS]), ()
    kept = kept[:MAX_TOKENS]
    return tuple(kept), tuple(i for i in fathers if i < len(kept))


def _form(
    tokens: tuple[str, ...],
    syllabic: bool = False,
    *,
    fathers: tuple[int, ...] = (),
    family_first: bool = False,
) -> NameForm:
    n = len(tokens)
    last = {n - 1, *fathers} | ({n - 2} if n >= 4 else set())  # double surnames from 4 tokens
    family = {0} if family_first else last
    patronymic = tuple(i for i, t in enumerate(tokens) if _PATRONYMIC.search(t))
    family -= set(patronymic)
    return NameForm(
        tokens,
        tuple(skeleton(t) for t in tokens),
        syllabic,
        tuple(sorted(i for i in family if 0 <= i < n)),
        patronymic,
    )


@lru_cache(maxsize=16_384)
def name_forms(name: str, person: bool = True) -> tuple[NameForm, ...]:
    """Every comparable form of NAME (usually one; Chinese names give two). Empty if no letters."""
    # Symbols go before NFKC, which would turn "™" into the letters "TM".
    text = unicodedata.normalize("NFKC", _without_symbols(name)).strip()
    if not text or not has_letters(text):
        return ()
    if _CJK.search(text):
        return _cjk_forms(text, person=person)
    tokens, fathers = _clean(_ascii_tokens(text, arabic=bool(_ARABIC.search(text))), person=person)
    forms = [_form(tokens, fathers=fathers)] if tokens else []
    if person and _PALLADIUS_MARK.search(text.lower()):
        # A Chinese name in Russian spelling (Си Цзиньпин): also read it as pinyin.
        chinese, _ = _clean(palladius_to_pinyin(text).split(), person=person)
        if chinese and chinese != tokens:
            forms.append(_form(chinese, family_first=True))
    return tuple(forms)


# Chinese names in Russian (Palladius) spelling: clusters Russian words hardly have.
_PALLADIUS_MARK = re.compile("цз|чж|[бпмфдтнлгкхцсчшжз]э")
_PALLADIUS_SOFT = "июяеё"  # цз/ц/с before these are j/q/x, else z/c/s
_PALLADIUS_VOWELS = "аоуэыиюяеёй"
_PALLADIUS_LETTERS = {
    "а": "a", "о": "o", "у": "u", "э": "e", "ы": "i", "и": "i", "й": "i", "ь": "",
    "б": "b", "п": "p", "м": "m", "ф": "f", "д": "d", "т": "t", "л": "l", "г": "g",
    "к": "k", "х": "h", "ш": "sh", "ж": "r", "в": "w", "з": "z", "ъ": "",
}  # fmt: skip


def palladius_to_pinyin(text: str) -> str:
    """Russian (Palladius) spelling of a Chinese name -> pinyin, e.g. Си Цзиньпин -> xi jinping."""
    s = text.lower()
    out: list[str] = []
    i = 0
    while i < len(s):
        ch, nxt = s[i], s[i + 1 : i + 2]
        after = s[i + 2 : i + 3]
        prev = s[i - 1 : i] if i else ""
        step = 1
        if s.startswith("цз", i):
            out.append("j" if after and after in _PALLADIUS_SOFT else "z")
            step = 2
        elif s.startswith("чж", i):
            out.append("zh")
            step = 2
        elif ch in "цс":
            soft = nxt and nxt in _PALLADIUS_SOFT
            out.append(("q" if ch == "ц" else "x") if soft else ("c" if ch == "ц" else "s"))
        elif ch == "ч":
            out.append("ch")
        elif ch == "н":
            # нь is a final n; н before a vowel starts a syllable; any other н is a final ng
            out.append("n" if nxt == "ь" or (nxt and nxt in _PALLADIUS_VOWELS) else "ng")
        elif ch in "юяеё":
            initial = not prev or not prev.isalpha() or prev in _PALLADIUS_VOWELS
            vowel = {"ю": "u", "я": "a", "е": "e", "ё": "o"}[ch]
            out.append(("y" if initial else "i") + vowel)
        else:
            out.append(_PALLADIUS_LETTERS.get(ch, ch))
        i += step
    pinyin = "".join(out)
    pinyin = re.sub(r"(?<![jqxy])ung", "ong", pinyin)  # -ун is -ong
    pinyin = pinyin.replace("iui", "u").replace("yui", "yu")  # -юй is -ü
    return anyascii(pinyin)


def _cjk_forms(text: str, *, person: bool) -> tuple[NameForm, ...]:
    forms: list[NameForm] = []
    for n, part_variants in enumerate(_cjk_parts(text)):
        tokens, _ = _clean(part_variants, person=person)
        if tokens:
            forms.append(_form(tokens, syllabic=n > 0, family_first=person))
    return tuple(dict.fromkeys(forms))


def _cjk_parts(text: str) -> list[list[str]]:
    """Split TEXT into Chinese runs (pinyin) and other runs (anyascii), in both pinyin shapes."""
    runs = _CJK_RUNS.findall(text)
    grouped: list[str] = []
    split: list[str] = []
    for run in runs:
        if _CJK.match(run):
            variants = _pinyin_words(run)
            if variants:
                grouped += variants[0]
                split += variants[-1]
        else:
            other = _ascii_tokens(run, arabic=False)
            grouped += other
            split += other
    return [grouped, split] if grouped != split else [grouped]
