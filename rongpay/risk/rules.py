"""A small declarative rule language, parsed into closures (never `eval`ed).

    version 3
    threshold default review 0.30 challenge 0.60 block 0.90
    threshold merchant "acct_5a7093ea5c4e" block 0.97
    rule tiny_burst: payer_small_cnt_1h >= 4 and new_device_for_payer == 1 => block
    shadow rule big_new_payee:
        new_payee_for_payer == 1 and amount_cny > 20000 => review "big transfer to a stranger"
    rule sanctioned_geo: payee_country in ["KP", "IR"] => block
    rule known_bad: device_id in blocklist or ip in blocklist => block

A line that starts with whitespace continues the statement above it; `#` starts a comment.
Grammar, precedence lowest first:

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand [(== != < <= > >=) operand | ["not"] "in" (list | blocklist | allowlist)]
    operand    := NUMBER | STRING | true | false | NAME | "(" expr ")"

NAME is a feature (rongpay.risk.features.FEATURES), `score`, `amount_minor`, `amount_cny`, or
an event field (type, currency, channel, mcc, payer, payee, payer_country, payee_country,
device_id, ip, card, id). A comparison with a missing (null) field is false.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rongpay.risk.decision import Action
from rongpay.risk.errors import RuleSyntaxError
from rongpay.risk.event import Event
from rongpay.risk.features import INDEX
from rongpay.risk.lists import KIND_OF_FIELD, Lists
from rongpay.risk.model import Thresholds

MAX_RULES = 1000
MAX_SOURCE_BYTES = 1 << 20
MAX_DEPTH = 40
MAX_LIST_ITEMS = 10_000

NUMERIC_FIELDS = frozenset({"score", "amount_minor", "amount_cny", *INDEX})
TEXT_FIELDS = frozenset({
    "id", "type", "currency", "channel", "mcc", "payer", "payee", "payer_country",
    "payee_country", "device_id", "ip", "card",
})  # fmt: skip
KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "rule", "shadow", "version",
                      "threshold", "blocklist", "allowlist"})  # fmt: skip
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
TOKEN = re.compile(
    r"""(?P<ws>[ \t]+)|(?P<comment>\#.*)|(?P<num>-?\d+(?:\.\d+)?(?![\w.]))
    |(?P<str>"(?:[^"\\]|\\.)*")|(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>=>|==|!=|<=|>=|<|>|:|\[|\]|\(|\)|,)""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num, str, name, op, end
    text: str
    line: int
    col: int


class Context:
    """What a rule sees: the event, its features, the model score, the lists."""

    __slots__ = ("event", "lists", "score", "x")

    def __init__(self, event: Event, x: list[float], score: float, lists: Lists) -> None:
        self.event, self.x, self.score, self.lists = event, x, score, lists


Pred = Callable[[Context], bool]
Getter = Callable[[Context], Any]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    action: Action
    reason: str
    shadow: bool
    line: int
    test: Pred = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: int
    rules: tuple[Rule, ...]
    default_thresholds: Thresholds | None = None
    merchant_thresholds: dict[str, Thresholds] = field(default_factory=dict)

    @property
    def has_shadow(self) -> bool:
        return any(r.shadow for r in self.rules)

    def thresholds_for(self, payee: str, fallback: Thresholds) -> Thresholds:
        return self.merchant_thresholds.get(payee) or self.default_thresholds or fallback


def tokenize_line(text: str, line: int) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if m is None:
            raise RuleSyntaxError(line, pos + 1, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind not in ("ws", "comment"):
            tokens.append(Token(kind, m.group(), line, pos + 1))
        pos = m.end()
    return tokens


def statements(source: str) -> list[list[Token]]:
    """Group tokens into statements: an indented line continues the one above."""
    out: list[list[Token]] = []
    for line_no, raw in enumerate(source.splitlines(), start=1):
        tokens = tokenize_line(raw.rstrip("\r"), line_no)
        if not tokens:
            continue
        if raw[:1] in (" ", "\t") and out:
            out[-1].extend(tokens)
        elif raw[:1] in (" ", "\t"):
            raise RuleSyntaxError(
                line_no, 1, "an indented line continues a statement, but none came before"
            )
        else:
            out.append(tokens)
    return out


class Parser:
    """Recursive descent over one statement's tokens."""

    def __init__(self, tokens: list[Token]) -> None:
        last = tokens[-1]
        self.tokens = [
            *tokens,
            Token("end", "end of statement", last.line, last.col + len(last.text)),
        ]
        self.pos = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return tok

    def fail(self, message: str, tok: Token | None = None) -> RuleSyntaxError:
        tok = tok or self.peek()
        return RuleSyntaxError(tok.line, tok.col, message)

    def expect(self, text: str) -> Token:
        tok = self.take()
        if tok.text != text:
            raise self.fail(f"expected {text!r}, found {tok.text!r}", tok)
        return tok

    def at(self, *texts: str) -> bool:
        tok = self.peek()
        return tok.kind in ("name", "op") and tok.text in texts

    def done(self) -> None:
        if self.peek().kind != "end":
            raise self.fail(f"unexpected {self.peek().text!r} after the end of the statement")

    # expressions -----------------------------------------------------------------------
    def expr(self) -> Pred:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"expression nested deeper than {MAX_DEPTH}")
        parts = [self.and_expr()]
        while self.at("or"):
            self.take()
            parts.append(self.and_expr())
        self.depth -= 1
        return parts[0] if len(parts) == 1 else _any(parts)

    def and_expr(self) -> Pred:
        parts = [self.not_expr()]
        while self.at("and"):
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else _all(parts)

    def not_expr(self) -> Pred:
        if self.at("not"):
            self.take()
            inner = self.not_expr()
            return lambda c: not inner(c)
        return self.comparison()

    def comparison(self) -> Pred:
        if self.at("("):
            self.take()
            inner = self.expr()
            self.expect(")")
            return inner
        start = self.peek()
        left, ltype = self.operand()
        if self.at("in") or (self.at("not") and self.tokens[self.pos + 1].text == "in"):
            return self.membership(start, left, ltype)
        if self.peek().text not in COMPARE:
            if ltype == "num" and start.kind == "name":
                raise self.fail(
                    f"expected a comparison after {start.text!r} (e.g. {start.text} > 0)"
                )
            raise self.fail(f"expected a comparison operator, found {self.peek().text!r}")
        op_tok = self.take()
        right_start = self.peek()
        right, rtype = self.operand()
        if ltype != rtype:
            raise self.fail(
                f"cannot compare {ltype_name(ltype)} with {ltype_name(rtype)}", right_start
            )
        if rtype == "str" and op_tok.text not in ("==", "!="):
            raise self.fail(
                f"operator {op_tok.text!r} needs numbers; text allows == and !=", op_tok
            )
        return _compare(COMPARE[op_tok.text], left, right)

    def operand(self) -> tuple[Getter, str]:
        tok = self.take()
        if tok.kind == "num":
            return Const(float(tok.text)), "num"
        if tok.kind == "str":
            return Const(_unquote(tok.text)), "str"
        if tok.kind == "name" and tok.text in ("true", "false"):
            return Const(1.0 if tok.text == "true" else 0.0), "num"
        if tok.kind == "name" and tok.text not in KEYWORDS:
            return field_getter(tok, self)
        raise self.fail(f"expected a number, a string or a field name, found {tok.text!r}", tok)

    def membership(self, start: Token, left: Getter, ltype: str) -> Pred:
        negate = self.at("not")
        if negate:
            self.take()
        self.expect("in")
        if self.at("blocklist", "allowlist"):
            which = self.take().text.removesuffix("list")
            kind = KIND_OF_FIELD.get(start.text)
            if kind is None:
                raise self.fail(
                    f"only {', '.join(sorted(KIND_OF_FIELD))} can be looked up in a list", start
                )
            pred: Pred = _in_list(which, kind, left)
        else:
            values = self.literal_list(ltype)
            pred = _in_set(values, left)
        return (lambda c: not pred(c)) if negate else pred

    def literal_list(self, ltype: str) -> frozenset[Any]:
        self.expect("[")
        values: set[Any] = set()
        while not self.at("]"):
            tok = self.take()
            if tok.kind == "str" and ltype == "str":
                values.add(_unquote(tok.text))
            elif tok.kind == "num" and ltype == "num":
                values.add(float(tok.text))
            else:
                raise self.fail(
                    f"list items must all be {ltype_name(ltype)}, found {tok.text!r}", tok
                )
            if len(values) > MAX_LIST_ITEMS:
                raise self.fail(f"more than {MAX_LIST_ITEMS} items in a list", tok)
            if not self.at("]"):
                self.expect(",")
        self.take()
        return frozenset(values)


def ltype_name(kind: str) -> str:
    return "a number" if kind == "num" else "text"


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def field_getter(tok: Token, parser: Parser) -> tuple[Getter, str]:
    name = tok.text
    if name in INDEX:
        return Feature(INDEX[name]), "num"
    if name == "score":
        return (lambda c: c.score), "num"
    if name == "amount_minor":
        return (lambda c: c.event.amount_minor), "num"
    if name == "amount_cny":
        i = INDEX["amount_log"]
        return (lambda c: _expm1(c.x[i])), "num"
    if name in TEXT_FIELDS:
        get = operator.attrgetter(name)
        return (lambda c: get(c.event)), "str"
    known = sorted(NUMERIC_FIELDS | TEXT_FIELDS)
    hint = difflib.get_close_matches(name, known, n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise parser.fail(f"unknown field {name!r}{suggestion}", tok)


def _expm1(v: float) -> float:
    import math

    return math.expm1(v)


class Const:
    """A literal operand (kept recognisable so comparisons with it can be specialised)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, c: Context) -> Any:
        return self.value


class Feature:
    """A feature operand: never null."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, c: Context) -> float:
        return c.x[self.index]


def _any(parts: list[Pred]) -> Pred:
    if len(parts) == 2:
        a, b = parts
        return lambda c: a(c) or b(c)
    return lambda c: any(p(c) for p in parts)


def _all(parts: list[Pred]) -> Pred:
    if len(parts) == 2:
        a, b = parts
        return lambda c: a(c) and b(c)
    if len(parts) == 3:
        a, b, d = parts
        return lambda c: a(c) and b(c) and d(c)
    return lambda c: all(p(c) for p in parts)


def _compare(op: Callable[[Any, Any], bool], left: Getter, right: Getter) -> Pred:
    # The common shapes (a feature or a field against a literal) skip the generic path:
    # rules run on every payment.
    if isinstance(left, Feature) and isinstance(right, Const):
        i, k = left.index, right.value
        return lambda c: op(c.x[i], k)
    if isinstance(right, Const):
        k = right.value
        return lambda c: (v := left(c)) is not None and op(v, k)

    def test(c: Context) -> bool:
        a, b = left(c), right(c)
        return a is not None and b is not None and op(a, b)

    return test


def _in_set(values: frozenset[Any], left: Getter) -> Pred:
    return lambda c: left(c) in values


def _in_list(which: str, kind: str, left: Getter) -> Pred:
    return lambda c: c.lists.contains(which, kind, left(c))


# statements --------------------------------------------------------------------------------
def _version(p: Parser, seen: int | None) -> int:
    tok = p.take()
    if seen is not None:
        raise p.fail("'version' given twice", tok)
    num = p.take()
    if num.kind != "num" or not num.text.isdigit() or int(num.text) < 1:
        raise p.fail(f"version must be a whole number >= 1, found {num.text!r}", num)
    p.done()
    return int(num.text)


def _threshold(p: Parser) -> tuple[str | None, Thresholds]:
    p.take()
    scope = p.take()
    merchant: str | None = None
    if scope.text == "merchant":
        tok = p.take()
        if tok.kind not in ("str", "name"):
            raise p.fail(f"expected a merchant account id, found {tok.text!r}", tok)
        merchant = _unquote(tok.text) if tok.kind == "str" else tok.text
    elif scope.text != "default":
        raise p.fail(f"expected 'default' or 'merchant', found {scope.text!r}", scope)
    values = {
        "review": Thresholds().review,
        "challenge": Thresholds().challenge,
        "block": Thresholds().block,
    }
    while p.peek().kind != "end":
        key = p.take()
        if key.text not in values:
            raise p.fail(f"expected review, challenge or block, found {key.text!r}", key)
        num = p.take()
        if num.kind != "num" or not 0.0 <= float(num.text) <= 1.0:
            raise p.fail(f"a threshold is a score between 0 and 1, found {num.text!r}", num)
        values[key.text] = float(num.text)
    found = Thresholds(**values)
    try:
        found.check()
    except ValueError as exc:
        raise p.fail(str(exc), scope) from None
    return merchant, found


def _rule(p: Parser) -> Rule:
    shadow = p.at("shadow")
    if shadow:
        p.take()
    first = p.expect("rule")
    name = p.take()
    if name.kind != "name" or name.text in KEYWORDS:
        raise p.fail(f"expected a rule name, found {name.text!r}", name)
    p.expect(":")
    test = p.expr()
    p.expect("=>")
    act = p.take()
    if act.text not in Action.__members__.values():
        raise p.fail(f"expected allow, review, challenge or block, found {act.text!r}", act)
    reason = ""
    if p.peek().kind == "str":
        reason = _unquote(p.take().text)
    p.done()
    return Rule(name.text, Action(act.text), reason, shadow, first.line, test)


def parse_rules(source: str) -> RuleSet:
    """Parse a rules file; RuleSyntaxError names the line and column of the first problem."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise RuleSyntaxError(1, 1, f"rules file larger than {MAX_SOURCE_BYTES} bytes")
    version: int | None = None
    rules: list[Rule] = []
    default: Thresholds | None = None
    merchants: dict[str, Thresholds] = {}
    for tokens in statements(source):
        p = Parser(tokens)
        head = p.peek().text
        if head == "version":
            version = _version(p, version)
        elif head == "threshold":
            merchant, found = _threshold(p)
            if merchant is None:
                default = found
            else:
                merchants[merchant] = found
        elif head in ("rule", "shadow"):
            rule = _rule(p)
            if any(r.name == rule.name for r in rules):
                raise RuleSyntaxError(rule.line, 1, f"rule {rule.name!r} is defined twice")
            rules.append(rule)
            if len(rules) > MAX_RULES:
                raise RuleSyntaxError(rule.line, 1, f"more than {MAX_RULES} rules")
        else:
            raise p.fail(
                f"expected 'version', 'threshold', 'rule' or 'shadow rule', found {head!r}"
            )
    if version is None:
        raise RuleSyntaxError(1, 1, "missing 'version N' (rules files are versioned)")
    return RuleSet(version, tuple(rules), default, merchants)


def with_shadow(live: RuleSet, shadow: RuleSet) -> RuleSet:
    """LIVE plus every rule of SHADOW run in shadow, named `vN:NAME` (N: SHADOW's version), so
    a candidate version is watched on live traffic with its hits told apart from LIVE's own."""
    watched = tuple(
        Rule(f"v{shadow.version}:{r.name}", r.action, r.reason, True, r.line, r.test)
        for r in shadow.rules
    )
    return RuleSet(live.version, live.rules + watched, live.default_thresholds,
                   live.merchant_thresholds)  # fmt: skip
