"""The expr language's tokens and syntax tree, and a Pratt parser from one to the other.

Each kind of node is its own frozen dataclass, so the evaluator and the variable finder match on names
(`Member(target, key)`) rather than on positions in a tuple.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from fmops.argo.local.limits import MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LENGTH, MAX_INT
from fmops.core.errors import InputError

TOKEN = re.compile(
    r"""\s*(?:(?P<number>\d+\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)"""
    r"""|(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`)"""
    r"""|(?P<op>\*\*|==|!=|>=|<=|&&|\|\||\?\?|\?\.|=~|!~|\.\.|[<>!()\[\]{}+\-*/%?:,.#^])"""
    r"""|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*))"""
)
WORD_OPERATORS = {"and": "&&", "or": "||", "not": "!"}
# Binary operators from the loosest to the tightest binding; each binds its right side one step tighter
# (left associative), except the power operators, which bind to the right.
PRECEDENCE = [
    (("??",), 5),
    (("||",), 10),
    (("&&",), 15),
    (("==", "!=", "<", ">", "<=", ">=", "=~", "!~", "in", "matches", "contains", "startsWith", "endsWith"), 20),
    (("..",), 25),
    (("+", "-"), 30),
    (("*", "/", "%"), 60),
]
BINARY = {operator: (power, power + 1) for operators, power in PRECEDENCE for operator in operators}
BINARY |= {"**": (101, 100), "^": (101, 100)}
UNARY_POWER = 90
CONDITIONAL_POWER = 1
CONSTANTS = {"true": True, "false": False, "nil": None}


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | op | name | end
    text: str
    column: int


def tokens(text: str) -> list[Token]:
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise InputError(f"expression {shown(text)}: longer than {MAX_EXPRESSION_LENGTH} characters")
    position, found = 0, []
    while position < len(text):
        if not text[position:].strip():
            break
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise InputError(f"cannot parse expression {shown(text)} at column {position + 1}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "name" and value in WORD_OPERATORS:
            kind, value = "op", WORD_OPERATORS[value]
        found.append(Token(kind, value, match.start(kind) + 1))
        position = match.end()
    return [*found, Token("end", "", len(text) + 1)]


def shown(text: str) -> str:
    """An expression as an error line quotes it: at most 80 characters."""
    text = text.strip()
    return repr(text) if len(text) <= 80 else repr(text[:77] + "...")


def unquote(text: str) -> str:
    if text[0] == "`":
        return text[1:-1]
    return json.loads('"' + text[1:-1].replace('\\"', '"').replace("\\'", "'").replace('"', '\\"') + '"')


# ---- syntax tree -------------------------------------------------------------------------------------------


class Expr:
    """A node of the syntax tree."""


@dataclass(frozen=True)
class Literal(Expr):
    value: Any


@dataclass(frozen=True)
class Name(Expr):
    name: str


@dataclass(frozen=True)
class Pointer(Expr):
    """`#`: the current item inside a closure."""


@dataclass(frozen=True)
class Member(Expr):
    target: Expr
    key: str
    optional: bool = False  # `?.`: nil when the target is nil


@dataclass(frozen=True)
class Index(Expr):
    target: Expr
    key: Expr


@dataclass(frozen=True)
class Slice(Expr):
    target: Expr
    low: Expr | None
    high: Expr | None


@dataclass(frozen=True)
class Call(Expr):
    callee: Expr
    arguments: tuple[Expr, ...]


@dataclass(frozen=True)
class Unary(Expr):
    operator: str
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    operator: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Conditional(Expr):
    test: Expr
    yes: Expr
    no: Expr


@dataclass(frozen=True)
class Array(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class MapLiteral(Expr):
    pairs: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class Closure(Expr):
    body: Expr


def children(node: Expr) -> Iterator[Expr]:
    """The nodes directly under `node`, in the order they are written."""
    for each in fields(node):  # type: ignore[arg-type]  # every Expr subclass is a dataclass
        value = getattr(node, each.name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, Expr):
                yield item
            elif isinstance(item, tuple):  # a map's (key, value)
                yield from (part for part in item if isinstance(part, Expr))


# ---- parser ------------------------------------------------------------------------------------------------


class Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokens(text)
        self.position = 0
        self.depth = 0

    def fail(self, message: str) -> InputError:
        token = self.ahead(0)
        return InputError(f"cannot parse expression {shown(self.text)} at column {token.column}: {message}")

    @property
    def peek(self) -> Token:
        return self.ahead(0)

    def ahead(self, count: int) -> Token:
        """The token `count` after the current one (the end token past the end)."""
        return self.tokens[min(self.position + count, len(self.tokens) - 1)]

    def take(self, text: str | None = None) -> Token:
        token = self.peek
        if token.kind == "end":
            raise self.fail(f"expected '{text}', found the end" if text else "unexpected end")
        if text is not None and (token.kind not in ("op", "name") or token.text != text):
            raise self.fail(f"expected '{text}', found '{token.text or 'end'}'")
        self.position += 1
        return token

    def accept(self, text: str) -> bool:
        if self.peek.kind in ("op", "name") and self.peek.text == text:
            self.position += 1
            return True
        return False

    def parse(self) -> Expr:
        node = self.expression()
        if self.peek.kind != "end":
            raise self.fail(f"unexpected '{self.peek.text}'")
        return node

    def expression(self, power: int = 0) -> Expr:
        self.depth += 1
        if self.depth > MAX_EXPRESSION_DEPTH:
            raise self.fail(f"nested deeper than {MAX_EXPRESSION_DEPTH}")
        try:
            return self.operators(self.prefix(), power)
        finally:
            self.depth -= 1

    def operators(self, left: Expr, power: int) -> Expr:
        """`left` and the operators after it that bind at least as tightly as `power`."""
        while True:
            token = self.peek
            if token.kind == "op" and token.text == "?" and power <= CONDITIONAL_POWER:
                self.take()
                yes = self.expression()
                self.take(":")
                left = Conditional(left, yes, self.expression(CONDITIONAL_POWER))
                continue
            operator = token.text if token.kind in ("op", "name") else None
            negated = operator == "!" and self.ahead(1).text in ("in", "matches")
            if negated:
                operator = self.ahead(1).text
            if operator not in BINARY or BINARY[operator][0] < power:
                return left
            self.take()
            if negated:
                self.take()
            left = Binary(operator, left, self.expression(BINARY[operator][1]))
            if negated:
                left = Unary("!", left)

    def prefix(self) -> Expr:
        token = self.take()
        node: Expr
        if token.kind == "number":
            node = Literal(self.number(token))
        elif token.kind == "string":
            node = Literal(unquote(token.text))
        elif token.kind == "name":
            node = Literal(CONSTANTS[token.text]) if token.text in CONSTANTS else Name(token.text)
        elif token.text in ("!", "-", "+"):
            node = Unary(token.text, self.expression(UNARY_POWER))
        elif token.text == "(":
            node = self.expression()
            self.take(")")
        elif token.text == "[":
            node = Array(self.sequence("]"))
        elif token.text == "{":
            node = self.braces()
        elif token.text == "#":
            node = Pointer()
        elif token.text == ".":  # `.field` inside a closure is `#.field`
            node = Member(Pointer(), self.take().text)
        else:
            self.position -= 1
            raise self.fail(f"unexpected '{token.text or 'end'}'")
        return self.postfix(node)

    def number(self, token: Token) -> int | float:
        """A number literal: a float, or an integer that fits Go's int64 (expr refuses larger ones)."""
        if "." in token.text or "e" in token.text.lower():
            return float(token.text)
        if len(token.text) > 19 or int(token.text) > MAX_INT:
            self.position -= 1
            raise self.fail(f"integer {token.text[:20]}... does not fit in 64 bits")
        return int(token.text)

    def sequence(self, close: str) -> tuple[Expr, ...]:
        items = []
        while not self.accept(close):
            items.append(self.expression())
            if not self.accept(","):
                self.take(close)
                break
        return tuple(items)

    def braces(self) -> Expr:
        """`{key: value, ...}` (a map) or `{expr}` (a closure)."""
        after = self.ahead(1)
        if self.peek.text == "}" or (self.peek.kind in ("name", "string", "number") and after.text == ":"):
            pairs = []
            while not self.accept("}"):
                key = self.take()
                self.take(":")
                pairs.append((unquote(key.text) if key.kind == "string" else key.text, self.expression()))
                if not self.accept(","):
                    self.take("}")
                    break
            return MapLiteral(tuple(pairs))
        body = self.expression()
        self.take("}")
        return Closure(body)

    def postfix(self, node: Expr) -> Expr:
        while True:
            if self.peek.text in (".", "?.") and self.peek.kind == "op":
                optional = self.take().text == "?."
                node = Member(node, self.take().text, optional)
            elif self.accept("["):
                node = self.subscript(node)
                self.take("]")
            elif self.peek.text == "(" and self.peek.kind == "op" and isinstance(node, Name | Member):
                self.take()
                node = Call(node, self.sequence(")"))
            else:
                return node

    def subscript(self, node: Expr) -> Expr:
        """What follows `[`: an index, or a slice `[low:high]` with either end left out."""
        low = None if self.peek.text == ":" else self.expression()
        if not self.accept(":"):
            assert low is not None
            return Index(node, low)
        return Slice(node, low, None if self.peek.text == "]" else self.expression())


def depth(node: Expr) -> int:
    """How deep a tree is (counted without recursion: a long chain `1+1+...+1` is deep, not nested)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        each, level = stack.pop()
        deepest = max(deepest, level)
        stack += [(child, level + 1) for child in children(each)]
    return deepest


def parse(text: str) -> Expr:
    """The syntax tree of an expression; InputError when it does not parse or is too long or too deep."""
    tree = Parser(text).parse()
    if depth(tree) > MAX_EXPRESSION_DEPTH:
        raise InputError(f"expression {shown(text)}: nested deeper than {MAX_EXPRESSION_DEPTH}")
    return tree
