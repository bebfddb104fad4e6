"""Sanctions screening: a blocking index over list names, then token-aligned fuzzy scoring.

Scoring a name against every entry of a 100,000-entry list is far too slow for onboarding and
payments, so the index keeps, for every name form, keys of its tokens (the token itself, its
consonant skeleton, its first four letters). A query gathers the entries that share its rarest
keys, ranks them by the inverse frequency of the shared keys, and scores only the best few.

The score (0..1) aligns query tokens with list tokens (best pairs first): each pair scores by
Jaro-Winkler and Indel similarity, or by consonant skeleton (for vowel-less transliterations),
or as an initial ("V." for "Vladimir"). Unpaired tokens (a missing middle name) cost a little;
one shared token out of several is never a match on its own. Birth date and country, when the
caller knows them, move the score a little either way: they break ties, they do not make hits.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel, Jaro

from rongpay.compliance.errors import InvalidInput
from rongpay.compliance.names import NameForm, name_forms, skeleton
from rongpay.compliance.sanctions import ListEntry, SanctionsList

DEFAULT_THRESHOLD = 0.85  # at or above: "match" (the payment is held for review)
DEFAULT_FLOOR = 0.70  # below: not reported at all
DEFAULT_LIMIT = 5  # matches reported per name
CANDIDATES_SCORED = 12  # entries fully scored per query after blocking
CANDIDATES_RANKED = 64  # near-ties considered before the cut to CANDIDATES_SCORED
VOTE_MARGIN = 2  # votes behind the best candidate still scored
POSTING_FIRST = 3_000  # a token with more postings is common: exact and skeleton keys only
MAX_BLOCKING_TOKENS = 6  # rarest query tokens used for blocking
MAX_NAME_CHARS = 500
INITIAL_SIMILARITY = 0.85
# Words many organisations share: pairing them says little about identity.
GENERIC_WORDS = frozenset(
    [
        "trading",
        "trade",
        "general",
        "international",
        "global",
        "group",
        "holding",
        "holdings",
        "industries",
        "industrial",
        "import",
        "export",
        "services",
        "service",
        "enterprise",
        "enterprises",
        "investment",
        "investments",
        "shipping",
        "logistics",
        "technology",
        "technologies",
        "resources",
        "development",
        "commercial",
        "petroleum",
        "energy",
        "construction",
        "engineering",
        "finance",
        "financial",
        "capital",
        "partners",
        "bank",
    ]
)
CONFLICT_PENALTY = 0.2  # per pair of unpaired tokens, one on each side
SYLLABLE_PENALTY = 0.2  # a missing pinyin syllable changes the name (Zhang Wei vs Zhang Weimin)
LENGTH_PENALTY = 0.05  # per letter of length difference beyond one (Wei is not Weimin)
PAIR_FLOOR = 0.6  # token pairs less alike than this are not paired
BASE_WEIGHT = 0.4  # weighted mean of the pairs vs. the weakest pair
DOB_BONUS, DOB_PENALTY = 0.05, 0.15
COUNTRY_BONUS, COUNTRY_PENALTY = 0.03, 0.05
TIE_BONUS_MAX = DOB_BONUS + COUNTRY_BONUS
SINGLE_PAIR_FACTOR = 0.55  # one token paired of several: never a match on its own
# Listed tokens not given cost this times their share of the listed name's letters (leaving
# out a long part of a name leaves another person), a patronymic only PATRONYMIC_COST ...
MISSING_WEIGHT = 0.2
PATRONYMIC_COST = 0.04
# ... and pairing none of the listed family tokens costs FAMILY_PENALTY more: "Ahmed Hassan"
# is not "Ahmed Hassan Al-Masri", "Sanjay Kumar" not "Sanjay Kumar Mehta".
FAMILY_PENALTY = 0.15
SHORT_TOKEN = 4  # a listed name of 3+ tokens this short is syllables (Kim Jong Un)
DISTINCT_NAME_SIMILARITY = 0.7  # Feng/Fang, Xiaoling/Xiaolong: other names, not typos


_EMPTY: set[int] = set()  # never mutated


class NameKind(StrEnum):
    NAME = "name"
    ALIAS = "alias"


@dataclass(frozen=True, slots=True)
class Match:
    """One list entry scored against a screened name."""

    entry: ListEntry
    score: float
    matched_name: str
    kind: NameKind
    explanation: str
    is_match: bool

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.entry.id,
            "caption": self.entry.caption,
            "score": self.score,
            "match": self.is_match,
            "matched_name": self.matched_name,
            "name_kind": str(self.kind),
            "schema": self.entry.schema,
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    birth_date: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class _TokenSets:
    size: int  # postings over all of the token's keys
    comps: list[set[int]]  # the posting sets a candidate may be in
    exact: set[int]  # variants with this very token
    common: bool  # too many postings: exact and skeleton keys only
    skeleton: set[int]  # variants sharing only the consonant skeleton: the weakest link


@dataclass(frozen=True, slots=True)
class _Variant:
    entry_index: int
    form: NameForm
    original: str
    kind: NameKind


@lru_cache(maxsize=65_536)
def token_keys(token: str, skel: str) -> tuple[str, ...]:
    """Blocking keys of one token (single letters give none: initials only confirm).

    The token, its consonant skeleton, and (from four letters on) the token with one letter
    deleted at each position: two tokens one typo apart always share one of those keys.
    """
    if len(token) < 2:
        return ()
    keys = {"t" + token}
    if len(skel) >= 2:
        keys.add("s" + skel)
    if len(token) >= 4:
        keys.update("t" + token[:i] + token[i + 1 :] for i in range(len(token)))
    return tuple(sorted(keys))


class Screener:
    """An index over one SanctionsList; `screen` answers in well under a millisecond."""

    def __init__(self, sanctions: SanctionsList) -> None:
        self.entries = sanctions.entries
        self.variants: list[_Variant] = []
        postings: dict[str, set[int]] = defaultdict(set)
        for i, entry in enumerate(self.entries):
            person = entry.is_person
            for kind, names in ((NameKind.NAME, (entry.caption,)), (NameKind.ALIAS, entry.aliases)):
                for original in names:
                    for form in name_forms(original, person):
                        v = len(self.variants)
                        self.variants.append(_Variant(i, form, original, kind))
                        for tok, skel in zip(form.tokens, form.skeletons, strict=True):
                            for key in token_keys(tok, skel):
                                postings[key].add(v)
        self.postings = dict(postings)
        self._log_n = math.log(len(self.variants) + 1)
        _pinyin_syllables()  # loaded with the index, not on the first screened name

    def screen(
        self,
        query: Query,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        floor: float = DEFAULT_FLOOR,
        limit: int = DEFAULT_LIMIT,
    ) -> list[Match]:
        """The best list entries for QUERY, best first, each at or above FLOOR."""
        forms = query_forms(query.name)
        best: dict[int, tuple[float, _Variant, NameForm]] = {}
        for qform in forms:
            for v in self._candidates(qform, floor):
                variant = self.variants[v]
                score = score_forms(qform, variant.form)[0]
                prior = best.get(variant.entry_index)
                if prior is None or score > prior[0]:
                    best[variant.entry_index] = (score, variant, qform)
        scored = []
        for score, variant, qform in best.values():
            if score >= floor - TIE_BONUS_MAX:
                delta, notes = tie_breakers(query, self.entries[variant.entry_index])
                final = round(min(1.0, max(0.0, score + delta)), 4)
                if score < threshold <= final:
                    # Birth date and country break ties; they never make a match by themselves.
                    final = _below(threshold)
                    notes.append("name alone below the threshold")
                if final >= floor:
                    scored.append((final, variant, qform, notes))
        scored.sort(key=lambda x: (-x[0], self.entries[x[1].entry_index].id))
        # Explanations cost a second scoring pass: only for the matches returned.
        return [self._finish(*item, threshold) for item in scored[:limit]]

    def _candidates(self, qform: NameForm, floor: float) -> list[int]:
        """Variants sharing keys with the most query tokens (rare tokens first), best first."""
        tokens = self._token_sets(qform)
        full_tokens = sum(len(t) > 1 for t in qform.tokens)
        # With two or more full query tokens, a candidate only one of them reached pairs one
        # token at most: it scores at most SINGLE_PAIR_FACTOR, below any usual floor. So only
        # variants reached by two tokens are candidates (set intersections, in C).
        if full_tokens > 1 and floor > SINGLE_PAIR_FACTOR + TIE_BONUS_MAX:
            found = self._pair_candidates(tokens)
        else:
            found = self._any_candidates(tokens)
        if not found:
            return []
        votes: Counter[int] = Counter()
        for t in tokens:
            votes.update(set().union(*(found & c for c in t.comps)))
            votes.update(found & t.exact)  # an exact token outranks a one-typo neighbour
        least = max(votes.values()) - VOTE_MARGIN  # an exact token fewer than the best: out
        kept = [v for v, n in votes.items() if n >= least]
        if len(kept) <= CANDIDATES_SCORED:
            return kept
        # Many near-ties (a common first name and a surname with many one-typo neighbours):
        # order them by a fast whole-string similarity (C code) before the full scoring,
        # those reached only through a shared consonant skeleton last (a frequent skeleton
        # such as "fs" must not crowd out the one-typo neighbour: Yafaez / Wafaez).
        strong: Counter[int] = Counter()
        for t in tokens:
            strong.update(set().union(*(found & c for c in t.comps if c is not t.skeleton)))
        kept.sort(key=lambda v: (votes[v], strong[v]), reverse=True)
        texts = {v: self.variants[v].form.text for v in kept[:CANDIDATES_RANKED]}
        best = process.extract(
            qform.text, texts, scorer=fuzz.token_set_ratio, limit=CANDIDATES_SCORED
        )
        return [v for _, _, v in best]

    def _token_sets(self, qform: NameForm) -> list[_TokenSets]:
        """Per query token that shares keys with the list: its posting sets, rarest first."""
        out = []
        for tok, skel in zip(qform.tokens, qform.skeletons, strict=True):
            found = [self.postings[k] for k in token_keys(tok, skel) if k in self.postings]
            if not found:
                continue
            exact = self.postings.get("t" + tok, _EMPTY)
            size = sum(map(len, found))
            if size > POSTING_FIRST:
                # A common token (a frequent first name): its typo neighbours are too many.
                found = [exact, self.postings.get("s" + skel, _EMPTY)]
            skel_set = self.postings.get("s" + skel, _EMPTY)
            out.append(_TokenSets(size, found, exact, size > POSTING_FIRST, skel_set))
        out.sort(key=lambda t: t.size)
        return out[:MAX_BLOCKING_TOKENS]

    def _pair_candidates(self, tokens: list[_TokenSets]) -> set[int]:
        found: set[int] = set()
        for i, small in enumerate(tokens):
            if i + 1 >= len(tokens) or (found and small.common):
                break  # the rest are common first names: they cannot outscore what was found
            members = set().union(*small.comps)
            for big in tokens[i + 1 :]:
                if found and small.common and big.common:
                    continue  # two common first names alone cannot outscore what was found
                for comp in big.comps:
                    found |= members & comp
            if len(found) > POSTING_FIRST:
                break
        return found

    def _any_candidates(self, tokens: list[_TokenSets]) -> set[int]:
        if not tokens:
            return set()
        rarest = tokens[0]
        if rarest.size <= POSTING_FIRST:
            return set().union(*rarest.comps)
        return set(rarest.exact)

    def _finish(
        self, final: float, variant: _Variant, qform: NameForm, notes: list[str], threshold: float
    ) -> Match:
        entry = self.entries[variant.entry_index]
        why = score_forms(qform, variant.form, explain=True)[1]
        explanation = "; ".join([f"{variant.kind} {variant.original!r}: {why}", *notes])
        return Match(entry, final, variant.original, variant.kind, explanation, final >= threshold)


def _below(threshold: float) -> float:
    """The highest 4-decimal score under THRESHOLD."""
    return max(0.0, math.ceil(threshold * 10_000 - 1) / 10_000)


def query_forms(name: str) -> tuple[NameForm, ...]:
    """The forms of a screened name, or InvalidInput for an empty or letterless one."""
    if not name or not name.strip():
        raise InvalidInput("empty name: give a name to screen")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"name longer than {MAX_NAME_CHARS} characters")
    forms = name_forms(name, True) or name_forms(name, False)
    if not forms:
        raise InvalidInput(f"name {name!r} has no letters or digits to screen")
    return forms


@lru_cache(maxsize=262_144)
def token_similarity(a: str, b: str, sa: str, sb: str) -> float:
    """How alike two tokens are, 0..1 (equal, initial, typo, or same consonant skeleton)."""
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:
        return INITIAL_SIMILARITY if a[0] == b[0] else 0.0
    if _other_pinyin_name(a, b):
        return DISTINCT_NAME_SIMILARITY
    indel = Indel.normalized_similarity(a, b)
    sim = 0.5 * Jaro.normalized_similarity(a, b) + 0.5 * indel
    sim -= LENGTH_PENALTY * max(0, abs(len(a) - len(b)) - 1)
    vowelless = _vowelless(a) or _vowelless(b)
    if sa == sb and len(sa) >= (2 if vowelless else 3) and (vowelless or indel >= 0.7):
        # Same consonants: a transliteration (Mohammed/Muhammad), unless the letters
        # themselves differ too much (Hassan/Hososon).
        sim = max(sim, 0.93)
    elif vowelless and len(sa) >= 3 and len(sb) >= 3:
        sim = max(sim, 0.9 * Indel.normalized_similarity(sa, sb))
    return sim


@lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable (about 420), from pypinyin's character table."""
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    readings = {p for v in set(pinyin_dict.values()) for p in v.split(",")}
    normal = {to_normal(p) for p in readings}
    return frozenset(x for x in normal if x.isascii() and x.isalpha())


@lru_cache(maxsize=65_536)
def pinyin_split(token: str) -> tuple[str, ...] | None:
    """TOKEN as a sequence of pinyin syllables (fewest syllables), or None if it is not one."""
    syllables = _pinyin_syllables()
    best: list[tuple[str, ...] | None] = [()] + [None] * len(token)
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - 6), end):
            prior = best[start]
            if prior is not None and token[start:end] in syllables:
                candidate = (*prior, token[start:end])
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    return best[len(token)]


def _other_pinyin_name(a: str, b: str) -> bool:
    """Two pinyin names of the same length differing only in vowels: distinct names.

    Feng/Fang, Xiaoling/Xiaolong are other syllables, so other people: a Latin typo rarely
    swaps one vowel for another inside a valid syllable. (Jinpin/Jinping differ in length.)
    """
    if len(a) != len(b) or len(a) < 2:
        return False
    if any(x != y and (x not in "aeiouv" or y not in "aeiouv") for x, y in zip(a, b, strict=True)):
        return False
    return pinyin_split(a) is not None and pinyin_split(b) is not None


@lru_cache(maxsize=262_144)
def _pair_similarity(a: str, b: str) -> float:
    return token_similarity(a, b, skeleton(a), skeleton(b))


def _vowelless(token: str) -> bool:
    """Written without vowels, as Arabic and Hebrew come out of transliteration ("mhmd")."""
    return not any(ch in "aeiou" for ch in token)


def score_forms(q: NameForm, c: NameForm, *, explain: bool = False) -> tuple[float, str]:
    """Score a query form against a list form, with a short explanation of the pairing."""
    if not explain and q.tokens == c.tokens:
        return 1.0, ""
    pairs = _align(q, c)
    if not pairs:
        return 0.0, "no token in common"
    weight = total = 0.0
    weakest = 1.0
    for i, j, sim in pairs:
        w = len(q.tokens[i]) + len(c.tokens[j])
        weight += w
        total += sim * w
        weakest = min(weakest, sim)
    base = total / weight
    if len(pairs) > 1:
        # One weak token (a different surname beside a shared first name) pulls the whole
        # name down: a long exact first name must not carry a 0.8 surname over the threshold.
        base = BASE_WEIGHT * base + (1 - BASE_WEIGHT) * weakest
    unpaired_q = len(q.tokens) - len(pairs)
    unpaired_c = len(c.tokens) - len(pairs)
    if (len(pairs) == 1 and (unpaired_q or unpaired_c)) or _only_generic_shared(c, pairs):
        score = base * SINGLE_PAIR_FACTOR
    elif q.syllabic or c.syllabic or (unpaired_c and _syllables(c)):
        score = base - SYLLABLE_PENALTY * (unpaired_q + unpaired_c)
    else:
        # A token on each side left unpaired is a conflict (another surname, another middle
        # name), not an omission: it costs much more than a name simply not given.
        conflicts = min(unpaired_q, unpaired_c)
        score = (
            base
            - CONFLICT_PENALTY * conflicts
            - 0.05 * (unpaired_q - conflicts)
            - _missing_cost(c, {j for _, j, _ in pairs})
        )
    # Other spacing ("Abdul Rahman" / "Abdulrahman") changes the number of tokens.
    compact = _compact_similarity(q, c) if len(q.tokens) != len(c.tokens) else 0.0
    if compact > score:
        return compact, f"same letters with other spacing ({compact:.2f})"
    return max(0.0, score), _explain(q, c, pairs) if explain else ""


def _syllables(c: NameForm) -> bool:
    """A listed name of syllables (Kim Jong Un, Li Wei Min): a missing one is another name.

    Recognised by shape: three or more tokens of at most four letters, one of them at most
    two (un, li, wu: romanised East Asian syllables; Raj Min Nial is not one).
    """
    return (
        len(c.tokens) >= 3
        and all(len(t) <= SHORT_TOKEN for t in c.tokens)
        and any(len(t) <= 2 for t in c.tokens)
    )


def _missing_cost(c: NameForm, paired: set[int]) -> float:
    """What the listed tokens left unpaired cost: their share of the name, and the family."""
    if len(paired) == len(c.tokens):
        return 0.0
    letters = sum(len(t) for t in c.tokens)
    missing = sum(
        len(t) for j, t in enumerate(c.tokens) if j not in paired and j not in c.patronymic
    )
    cost = MISSING_WEIGHT * missing / letters
    cost += PATRONYMIC_COST * sum(1 for j in c.patronymic if j not in paired)
    if c.family and paired.isdisjoint(c.family):
        cost += FAMILY_PENALTY
    return cost


def _only_generic_shared(c: NameForm, pairs: list[tuple[int, int, float]]) -> bool:
    """An organisation sharing one distinctive word and generic ones ("Golden ... Trading")."""
    if GENERIC_WORDS.isdisjoint(c.tokens):
        return False
    core = {j for j, t in enumerate(c.tokens) if t not in GENERIC_WORDS}
    return len(core) >= 2 and sum(1 for _, j, _ in pairs if j in core) <= 1


def _align(q: NameForm, c: NameForm) -> list[tuple[int, int, float]]:
    sims = [
        (_pair_similarity(a, b), i, j)
        for i, a in enumerate(q.tokens)
        for j, b in enumerate(c.tokens)
    ]
    sims.sort(reverse=True)
    used_q: set[int] = set()
    used_c: set[int] = set()
    pairs: list[tuple[int, int, float]] = []
    for s, i, j in sims:
        if s < PAIR_FLOOR:
            break
        if i not in used_q and j not in used_c:
            used_q.add(i)
            used_c.add(j)
            pairs.append((i, j, s))
    return pairs


def _compact_similarity(q: NameForm, c: NameForm) -> float:
    if len(q.tokens) == len(c.tokens) == 1:
        return 0.0
    qs = "".join(q.tokens)
    best = 0.0
    for cs in ("".join(c.tokens), "".join(reversed(c.tokens))):
        if not _other_pinyin_name(qs, cs):  # li xiaoling is not li xiao long
            best = max(best, Indel.normalized_similarity(qs, cs))
    return 0.98 * best if best >= 0.9 else 0.0


def _explain(q: NameForm, c: NameForm, pairs: list[tuple[int, int, float]]) -> str:
    parts = []
    for i, j, s in sorted(pairs, key=lambda p: p[0]):
        a, b = q.tokens[i], c.tokens[j]
        sign = "=" if s == 1.0 else "~"
        parts.append(f"{a}{sign}{b}" + ("" if s == 1.0 else f" {s:.2f}"))
    paired_c = {j for _, j, _ in pairs}
    missing = [t for j, t in enumerate(c.tokens) if j not in paired_c]
    paired_q = {i for i, _, _ in pairs}
    extra = [t for i, t in enumerate(q.tokens) if i not in paired_q]
    if missing:
        parts.append("not given: " + " ".join(missing))
    if extra:
        parts.append("not on list: " + " ".join(extra))
    return ", ".join(parts)


def tie_breakers(query: Query, entry: ListEntry) -> tuple[float, list[str]]:
    """Score adjustment and notes from birth date and country, when both sides know them."""
    delta = 0.0
    notes: list[str] = []
    if query.birth_date and entry.birth_dates:
        if any(_dates_agree(query.birth_date, d) for d in entry.birth_dates):
            delta += DOB_BONUS
            notes.append(f"birth date {query.birth_date} agrees")
        else:
            delta -= DOB_PENALTY
            notes.append(
                f"birth date {query.birth_date} differs from {', '.join(entry.birth_dates)}"
            )
    if query.country and entry.countries:
        if query.country.lower() in entry.countries:
            delta += COUNTRY_BONUS
            notes.append(f"country {query.country.upper()} agrees")
        else:
            delta -= COUNTRY_PENALTY
            notes.append(f"country {query.country.upper()} not among {', '.join(entry.countries)}")
    return delta, notes


def _dates_agree(a: str, b: str) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def naive_screen(
    sanctions: SanctionsList, query: Query, *, floor: float = DEFAULT_FLOOR, limit: int = 5
) -> list[tuple[float, str]]:
    """Baseline for the benchmark: score every name of the list (no index), best first."""
    forms = query_forms(query.name)
    best: dict[str, float] = {}
    for entry in sanctions.entries:
        for original in (entry.caption, *entry.aliases):
            for form in name_forms(original, entry.is_person):
                for qform in forms:
                    score = score_forms(qform, form)[0]
                    if score >= floor and score > best.get(entry.id, -1.0):
                        best[entry.id] = score
    return sorted(((s, i) for i, s in best.items()), reverse=True)[:limit]
