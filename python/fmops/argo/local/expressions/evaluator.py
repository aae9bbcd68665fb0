"""The value of an expr syntax tree over a workflow's variables, and the variables a tree reads.

Two readings: expr's own (`{{=...}}` tags, retryStrategy.expression), strict about types and names, and
govaluate's `loose` one for a substituted `when`: an unknown name is the word itself, and two sides that
both read as numbers compare as numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import re2

from fmops.argo.local.expressions.functions import FUNCTIONS, SPRIG, number, render
from fmops.argo.local.expressions.syntax import (
    Array,
    Binary,
    Call,
    Closure,
    Conditional,
    Expr,
    Index,
    Literal,
    MapLiteral,
    Member,
    Name,
    Pointer,
    Slice,
    Unary,
    children,
    parse,
    shown,
)
from fmops.argo.local.limits import MAX_EVALUATION_COST, MAX_INT, MAX_RANGE
from fmops.core.errors import InputError

ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}
TEXT_TESTS: dict[str, Callable[[str, str], bool]] = {
    "matches": lambda a, b: search(b, a),
    "=~": lambda a, b: search(b, a),
    "!~": lambda a, b: not search(b, a),
    "contains": lambda a, b: b in a,
    "startsWith": lambda a, b: a.startswith(b),
    "endsWith": lambda a, b: a.endswith(b),
}
ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "/": lambda x, y: x / y,
    "%": lambda x, y: int(x) % int(y),
    "**": lambda x, y: float(x) ** float(y),
    "^": lambda x, y: float(x) ** float(y),
}
CLOSURE_FUNCTIONS = ("map", "filter", "all", "any", "none", "one", "count", "find", "findIndex", "sortBy", "groupBy")
EVALUATION_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    ZeroDivisionError,
    AttributeError,
    OverflowError,
    RecursionError,  # fromJson of a deeply nested text
    re2.error,
)


class TooCostly(Exception):
    """An evaluation that would do more work, or make a bigger value, than limits.py allows."""


@functools.lru_cache(maxsize=256)
def pattern(text: str) -> re2._Regexp:
    """A regular expression as Argo compiles it: RE2, which matches in linear time (no catastrophic
    backtracking); a pattern RE2 refuses (backreferences, lookaround) is an error."""
    options = re2.Options()
    options.log_errors = False  # the refusal is reported as the expression's error line, not logged
    return re2.compile(text, options=options)


def search(regex: str, text: str) -> bool:
    try:
        compiled = pattern(regex)
    except re2.error as error:
        reason = error.args[0].decode(errors="replace") if error.args and isinstance(error.args[0], bytes) else error
        raise ValueError(f"regular expression {regex[:80]!r}: {reason}") from None
    return compiled.search(text) is not None


def charge(cost: list[int], value: Any) -> Any:
    """Count what making `value` cost (one, one per item of a list or map, one per 64 characters of a text)
    against the budget."""
    size = len(value) >> 6 if isinstance(value, str) else len(value) if isinstance(value, list | dict) else 0
    cost[0] += 1 + size
    if cost[0] > MAX_EVALUATION_COST:
        raise TooCostly(f"it needs more work than {MAX_EVALUATION_COST} steps allow")
    if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT - 1 <= value <= MAX_INT:
        raise TooCostly("an integer overflows 64 bits")
    return value


class Unresolved(Exception):
    """A name the environment does not have."""


def equal(a: Any, b: Any) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
    if numbers:
        return a == b
    return type(a) is type(b) and a == b or (a is None and b is None)


class Evaluator:
    """Evaluates a syntax tree over `env` (nested dicts; flat dotted names when `loose`)."""

    def __init__(self, env: dict[str, Any], loose: bool = False):
        self.env = env
        self.loose = loose
        self.cost = [0]

    def name(self, name: str) -> Any:
        if name in self.env:
            return self.env[name]
        if name == "sprig":
            return SPRIG
        if name in FUNCTIONS:
            return FUNCTIONS[name]
        if self.loose:
            return name
        raise Unresolved(name)

    def run(self, node: Expr, pointer: Any = None) -> Any:
        return charge(self.cost, self.value(node, pointer))

    def value(self, node: Expr, pointer: Any) -> Any:
        match node:
            case Literal(value):
                return value
            case Name(name):
                return self.name(name)
            case Pointer():
                return pointer
            case Array(items):
                return [self.run(item, pointer) for item in items]
            case MapLiteral(pairs):
                return {key: self.run(value, pointer) for key, value in pairs}
            case Member():
                return self.member(node, pointer)
            case Index(target, key):
                return self.index(self.run(target, pointer), self.run(key, pointer))
            case Slice(target, low, high):
                ends = [None if end is None else int(self.run(end, pointer)) for end in (low, high)]
                return self.run(target, pointer)[ends[0] : ends[1]]
            case Call():
                return self.call(node, pointer)
            case Unary("!", operand):
                return not self.truth(self.run(operand, pointer))
            case Unary(operator, operand):
                value = number(self.run(operand, pointer))
                return -value if operator == "-" else value
            case Conditional(test, yes, no):
                return self.run(yes if self.truth(self.run(test, pointer)) else no, pointer)
            case Closure():
                raise ValueError("a closure {...} is only allowed as an argument of map, filter, all, any, ...")
            case Binary():
                return self.binary(node, pointer)
        raise TypeError(f"not an expression: {node!r}")

    def member(self, node: Member, pointer: Any) -> Any:
        target = self.run(node.target, pointer)
        if target is None and node.optional:
            return None
        if not isinstance(target, dict):
            raise ValueError(f"cannot read .{node.key} of {render(target)!r}")
        if node.key in target:
            return target[node.key]
        if target is SPRIG:
            raise ValueError(f"sprig.{node.key} is not supported here")
        raise Unresolved(node.key)

    @staticmethod
    def index(target: Any, key: Any) -> Any:
        if isinstance(target, dict):
            if key not in target:
                raise Unresolved(str(key))
            return target[key]
        if isinstance(target, list | str):
            return target[int(key)]
        raise ValueError(f"cannot index {render(target)!r}")

    def truth(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if self.loose and isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        raise ValueError(f"{render(value)!r} is not a boolean")

    def call(self, node: Call, pointer: Any) -> Any:
        callee, arguments = node.callee, node.arguments
        if isinstance(callee, Name) and callee.name in CLOSURE_FUNCTIONS and callee.name not in self.env:
            if len(arguments) != 2:
                raise ValueError(f"{callee.name} takes a list and a closure")
            body = arguments[1].body if isinstance(arguments[1], Closure) else arguments[1]
            return self.closure(callee.name, self.run(arguments[0], pointer), body)
        function = self.run(callee, pointer)
        if not callable(function):
            raise ValueError(f"{render(function)!r} is not a function")
        return function(*[self.run(argument, pointer) for argument in arguments])

    def closure(self, name: str, items: Any, body: Expr) -> Any:
        if not isinstance(items, list | dict):
            raise ValueError(f"{name}: cannot iterate over {render(items)[:40]!r} (fromJSON turns JSON into a list)")
        results = [self.run(body, item) for item in items]
        if name == "map":
            return results
        if name == "sortBy":
            return [item for _, item in sorted(zip(results, items, strict=True), key=lambda pair: pair[0])]
        if name == "groupBy":
            groups: dict[Any, list] = {}
            for key, item in zip(results, items, strict=True):
                groups.setdefault(key, []).append(item)
            return groups
        truths = [self.truth(result) for result in results]
        kept = [item for item, keep in zip(items, truths, strict=True) if keep]
        if name == "filter":
            return kept
        if name == "find":
            return kept[0] if kept else None
        if name == "findIndex":
            return next((i for i, keep in enumerate(truths) if keep), -1)
        counts = {"count": sum(truths), "all": all(truths), "any": any(truths), "none": not any(truths)}
        return counts[name] if name in counts else sum(truths) == 1  # one

    def compare(self, operator: str, a: Any, b: Any) -> bool:
        if self.loose:
            try:
                a, b = float(number(a)), float(number(b))
            except (TypeError, ValueError):
                a, b = (render(a), render(b)) if not (isinstance(a, bool) or isinstance(b, bool)) else (a, b)
        if operator == "==":
            return equal(a, b)
        if operator == "!=":
            return not equal(a, b)
        if isinstance(a, str) != isinstance(b, str):
            raise ValueError(f"cannot compare {render(a)!r} {operator} {render(b)!r}")
        return ORDER[operator](a, b)

    def binary(self, node: Binary, pointer: Any) -> Any:
        operator = node.operator
        if operator == "??":
            try:
                value = self.run(node.left, pointer)
            except Unresolved:
                value = None
            return self.run(node.right, pointer) if value is None else value
        a = self.run(node.left, pointer)
        if operator in ("&&", "||"):
            if self.truth(a) == (operator == "||"):
                return self.truth(a)
            return self.truth(self.run(node.right, pointer))
        b = self.run(node.right, pointer)
        if operator in ("==", "!=", *ORDER):
            return self.compare(operator, a, b)
        if operator in TEXT_TESTS:
            return TEXT_TESTS[operator](str(a), str(b))
        if operator == "in":
            return a in b
        if operator == "..":
            low, high = int(a), int(b)
            if high - low >= MAX_RANGE:
                raise TooCostly(f"a range of more than {MAX_RANGE} numbers")
            return list(range(low, high + 1))
        if operator == "+" and (isinstance(a, str) or isinstance(b, str)):
            if self.loose or (isinstance(a, str) and isinstance(b, str)):
                return render(a) + render(b)
            raise ValueError(f"cannot add {render(a)!r} and {render(b)!r}")
        if operator == "+" and isinstance(a, list) and isinstance(b, list):
            return a + b
        return ARITHMETIC[operator](number(a), number(b))


def nested(variables: dict[str, Any]) -> dict[str, Any]:
    """`{"inputs.parameters.x": v}` as `{"inputs": {"parameters": {"x": v}}}`, for expressions' member access.
    `item` values that hold JSON keep their structure."""
    env: dict[str, Any] = {}
    for key, value in sorted(variables.items(), key=lambda kv: kv[0].count(".")):
        parts = key.split(".")
        scope = env
        for part in parts[:-1]:
            child = scope.get(part)
            if not isinstance(child, dict):
                child = scope[part] = {}
            scope = child
        if parts[-1] not in scope or not isinstance(scope[parts[-1]], dict):
            scope[parts[-1]] = value
    return env


def evaluate(text: str, variables: dict[str, Any], loose: bool = False) -> Any:
    """The value of an expression over `variables` (flat dotted names). Raises InputError for what does not
    parse or evaluate, Unresolved (a subclass of nothing the caller catches by accident) for an unknown name."""
    tree = parse(text)
    try:
        return Evaluator(nested(variables) if not loose else variables, loose).run(tree)
    except Unresolved:
        raise
    except TooCostly as error:
        raise InputError(f"cannot evaluate {shown(text)}: {error}") from None
    except EVALUATION_ERRORS as error:
        raise InputError(f"cannot evaluate {shown(text)}: {str(error)[:200]}") from None


def chain(node: Expr) -> list[str] | None:
    """`tasks['a-b'].outputs.result` -> [tasks, a-b, outputs, result]; None unless names, members and
    literal indexes all the way down."""
    match node:
        case Name(name):
            return [name]
        case Member(target, key):
            base = chain(target)
            return None if base is None else [*base, key]
        case Index(target, Literal(key)) if isinstance(key, str | int):
            base = chain(target)
            return None if base is None else [*base, str(key)]
    return None


def variable_paths(text: str) -> list[str]:
    """The dotted variable names an expression reads, known before it runs (`inputs.parameters.x`,
    `tasks.a-b.outputs.result`): a name indexed by something computed is left out, its key is not known."""
    found: list[str] = []

    def walk(node: Expr) -> None:
        path = chain(node)
        if path:
            found.append(".".join(path))
            return
        match node:
            case Call(_, arguments):  # the callee is a function's name, not a variable
                parts: tuple[Expr, ...] = arguments
            case Index(target, key) if chain(target):
                parts = (key,)  # a computed key: its base is a prefix of some variable, not one
            case _:
                parts = tuple(children(node))
        for part in parts:
            walk(part)

    walk(parse(text))
    return found
