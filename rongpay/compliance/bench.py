"""Benchmarks of the compliance engines, each beside a naive baseline in the same run.

`bench_screen`: a generated list (names from several naming cultures, aliases in other
scripts), queries that are variants of listed names (typos, reordering, initials, dropped
middle names) or unlisted names; the blocking index against a full scan of every name.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from rongpay.compliance.sanctions import ListEntry, SanctionsList
from rongpay.compliance.screening import (
    DEFAULT_LIMIT,
    DEFAULT_THRESHOLD,
    Query,
    Screener,
    naive_screen,
)

FIRST = [
    "james",
    "john",
    "robert",
    "michael",
    "william",
    "david",
    "richard",
    "joseph",
    "thomas",
    "charles",
    "maria",
    "elena",
    "anna",
    "olga",
    "irina",
    "natalia",
    "svetlana",
    "tatiana",
    "ivan",
    "sergei",
    "dmitri",
    "alexei",
    "vladimir",
    "nikolai",
    "andrei",
    "mohammed",
    "ahmed",
    "ali",
    "hassan",
    "hussein",
    "omar",
    "khalid",
    "youssef",
    "ibrahim",
    "abdullah",
    "fatima",
    "aisha",
    "wei",
    "fang",
    "min",
    "jing",
    "li",
    "hua",
    "jun",
    "ming",
    "lei",
    "yan",
    "hong",
    "xiaoming",
    "jianguo",
    "zhiwei",
    "lan",
    "jose",
    "carlos",
    "luis",
    "juan",
    "miguel",
    "pedro",
    "ana",
    "lucia",
    "carmen",
    "sofia",
    "hans",
    "peter",
    "klaus",
    "anke",
    "hiroshi",
    "kenji",
    "yuki",
    "aiko",
    "raj",
    "sanjay",
    "priya",
    "anil",
    "kwame",
    "amara",
    "chinedu",
    "ngozi",
]
SURNAME_PARTS = [
    "ab",
    "al",
    "an",
    "ar",
    "ba",
    "be",
    "bo",
    "ch",
    "da",
    "de",
    "di",
    "do",
    "el",
    "fa",
    "fe",
    "ga",
    "go",
    "ha",
    "he",
    "ho",
    "ib",
    "ka",
    "ke",
    "ki",
    "ko",
    "la",
    "le",
    "li",
    "lo",
    "ma",
    "me",
    "mi",
    "mo",
    "na",
    "ne",
    "ni",
    "no",
    "or",
    "pa",
    "pe",
    "po",
    "ra",
    "re",
    "ri",
    "ro",
    "sa",
    "se",
    "si",
    "so",
    "ta",
    "te",
    "ti",
    "to",
    "va",
    "ve",
    "vi",
    "vo",
    "wa",
    "ya",
    "yo",
    "za",
    "ze",
    "zh",
]
ENDINGS = [
    "ov",
    "ova",
    "ev",
    "enko",
    "son",
    "sen",
    "ez",
    "es",
    "ini",
    "elli",
    "ski",
    "ska",
    "ian",
    "yan",
    "wang",
    "zhang",
    "li",
    "chen",
    "is",
]


def _surname(rng: random.Random) -> str:
    parts = rng.randint(2, 3)
    stem = "".join(rng.choice(SURNAME_PARTS) for _ in range(parts))
    return stem + (rng.choice(ENDINGS) if rng.random() < 0.5 else "")


def generate_list(entries: int, seed: int) -> SanctionsList:
    rng = random.Random(seed)
    out = []
    for i in range(entries):
        first = rng.choice(FIRST)
        middle = rng.choice(FIRST) if rng.random() < 0.3 else ""
        last = _surname(rng)
        caption = " ".join(p for p in (first, middle, last) if p).title()
        aliases = (f"{last} {first}".title(),) if rng.random() < 0.3 else ()
        dob = f"{rng.randint(1940, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        out.append(ListEntry(f"gen-{i}", "Person", caption, aliases, (dob,), ("xx",), (), "bench"))
    return SanctionsList("<generated>", tuple(out))


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :] if rng.random() < 0.5 else word[:i] + "x" + word[i:]


def _variant(caption: str, rng: random.Random) -> str:
    tokens = caption.split()
    kind = rng.randrange(5)
    if kind == 0:
        tokens[-1] = _typo(tokens[-1], rng)
    elif kind == 1:
        tokens.reverse()
    elif kind == 2 and len(tokens) > 2:
        tokens.pop(1)
    elif kind == 3:
        tokens[0] = tokens[0][0] + "."
    return " ".join(tokens).upper() if rng.random() < 0.3 else " ".join(tokens)


def generate_queries(
    sanctions: SanctionsList, names: int, seed: int, listed_share: float = 0.5
) -> list[tuple[str, str]]:
    """(name, listed id or '') pairs: LISTED_SHARE variants of listed names, the rest unlisted."""
    rng = random.Random(seed + 1)
    out = []
    for _ in range(names):
        if rng.random() < listed_share:
            entry = rng.choice(sanctions.entries)
            out.append((_variant(entry.caption, rng), entry.id))
        else:
            out.append((f"{rng.choice(FIRST)} {_surname(rng)}x".title(), ""))
    return out


def bench_screen(
    *,
    entries: int,
    names: int,
    baseline_names: int,
    seed: int,
    listed_share: float = 0.5,
    progress: Callable[[str], None] = lambda _msg: None,
) -> dict[str, object]:
    progress(f"generating a {entries}-entry list and {names} names (seed {seed})")
    sanctions = generate_list(entries, seed)
    queries = generate_queries(sanctions, names, seed, listed_share)
    t0 = time.perf_counter()
    screener = Screener(sanctions)
    build_s = time.perf_counter() - t0
    progress(f"index built in {build_s:.1f} s; screening")
    found = listed = 0
    t0 = time.perf_counter()
    for name, listed_id in queries:
        matches = screener.screen(Query(name))
        if listed_id:
            listed += 1
            found += any(m.entry.id == listed_id and m.is_match for m in matches)
    index_s = time.perf_counter() - t0
    progress(f"naive full scan of {baseline_names} names")
    full_matches = found_matches = 0
    t0 = time.perf_counter()
    for name, _ in queries[:baseline_names]:
        naive = naive_screen(sanctions, Query(name), limit=DEFAULT_LIMIT)
        fast = screener.screen(Query(name), limit=DEFAULT_LIMIT)
        wanted = {i for score, i in naive if score >= DEFAULT_THRESHOLD}
        full_matches += len(wanted)
        found_matches += len(wanted & {m.entry.id for m in fast if m.is_match})
    naive_s = time.perf_counter() - t0
    rate = names / index_s
    naive_rate = baseline_names / naive_s
    return {
        "entries": entries,
        "names": names,
        "index_build_s": round(build_s, 2),
        "names_per_s": round(rate, 1),
        "baseline_names": baseline_names,
        "baseline_names_per_s": round(naive_rate, 2),
        "ratio": round(rate / naive_rate, 1),
        "listed_variant_recall": round(found / max(1, listed), 4),
        "full_scan_matches": full_matches,
        "full_scan_matches_found": found_matches,
        "listed_share": listed_share,
        "seed": seed,
    }


def generate_events(path: str, events: int, seed: int) -> None:
    """Write EVENTS lines of plausible traffic (payments, transfers, cash) with some laundering."""
    import orjson

    rng = random.Random(seed)
    customers = max(100, events // 20)
    merchants = max(10, customers // 25)
    start = 1_790_000_000
    step = max(1, 30 * 86_400 // events)
    currencies = ("CNY",) * 8 + ("USD", "EUR", "HKD")
    with open(path, "wb") as out:
        for i in range(events):
            ts = start + i * step + rng.randrange(step)
            kind = rng.random()
            payer = f"c{rng.randrange(customers)}"
            if kind < 0.75:
                etype, payee, amount = (
                    "payment",
                    f"m{rng.randrange(merchants)}",
                    rng.randrange(500, 90_000),
                )
            elif kind < 0.92:
                etype, payee, amount = (
                    "transfer",
                    f"c{rng.randrange(customers)}",
                    rng.randrange(1_000, 8_000_000),
                )
            elif kind < 0.96:
                etype, payee, amount = "topup", payer, rng.randrange(10_000, 6_000_000)
            else:
                etype, payee, amount = "withdrawal", payer, rng.randrange(10_000, 6_000_000)
            if i % 5_000 == 0:  # a ring of structured top-ups now and then
                etype, payee, amount = "topup", payer, rng.randrange(4_200_000, 4_990_000)
            row = {
                "id": f"e{i}",
                "ts": _rfc3339(ts),
                "type": etype,
                "amount_minor": amount,
                "currency": rng.choice(currencies),
                "payer": payer,
                "payee": payee,
                "payer_country": "CN",
                "payee_country": "CN"
                if rng.random() < 0.97
                else rng.choice(("US", "HK", "IR", "VN")),
                "channel": "wallet",
                "mcc": "5411" if etype == "payment" else None,
            }
            out.write(orjson.dumps(row) + b"\n")


def _rfc3339(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bench_aml(
    *, events: int, seed: int, path: str, progress: Callable[[str], None] = lambda _m: None
) -> dict[str, object]:
    from rongpay.compliance.aml_engine import Monitor, ScanStats, scan_lines
    from rongpay.compliance.events import read_events

    progress(f"generating {events} events (seed {seed}) into {path}")
    t0 = time.perf_counter()
    generate_events(path, events, seed)
    gen_s = time.perf_counter() - t0
    progress(f"generated in {gen_s:.1f} s; parsing only (baseline)")
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        parsed = sum(1 for _ in read_events(fh))
    parse_s = time.perf_counter() - t0
    progress(f"parsed {parsed} in {parse_s:.1f} s; scanning with every scenario")
    stats = ScanStats()
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        for _ in scan_lines(fh, Monitor(), stats):
            pass
    scan_s = time.perf_counter() - t0
    return {
        "events": stats.events,
        "scan_s": round(scan_s, 2),
        "events_per_s": round(stats.events / scan_s, 1),
        "parse_only_s": round(parse_s, 2),
        "alerts": stats.alerts,
        "alerts_by_scenario": {str(k): v for k, v in sorted(stats.by_scenario.items())},
        "target_s": 60,
        "meets_target": scan_s <= 60,
        "seed": seed,
    }
