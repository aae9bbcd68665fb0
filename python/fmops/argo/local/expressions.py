"""Argo's little languages, as far as a workflow on one machine needs them.

- `{{...}}` simple tags: looked up in a flat dict of variables (inputs.parameters.x, workflow.name, item, ...);
- `{{=...}}` expression tags: the expr language Argo evaluates them with (github.com/expr-lang/expr): literals,
  arrays and maps, member and index access, arithmetic, comparisons, `and`/`or`/`not`, `in`, `matches`,
  `contains`, `startsWith`, `endsWith`, `?:` and `??`, closures over `#` (map, filter, all, any, ...) and
  Argo's functions asInt, asFloat, string, toJson, jsonpath and the sprig.* helpers the examples use;
- `when`: govaluate over the already-substituted text (`heads == heads`, `2 > 1`, `'a' != 'b' && !(x == y)`):
  a bare word is a string, and two sides that both read as numbers compare as numbers;
- `depends`: enhanced depends logic over task results (`A && (B.Succeeded || C.Failed)`);
- retryStrategy.expression: expr over lastRetry.status / exitCode / duration.
Both Go evaluators have no Python port, and Python's own eval would accept far more than they do, so this is a
small Pratt parser over a strict tokeniser that evaluates only these forms.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fmops.argo.documents import SIMPLE_TAG, parameters
from fmops.core.errors import InputError

TOKEN = re.compile(
    r"""\s*(?:(?P<number>\d+\.\d+(?:[eE][-+]?\d+)?|\d+(?:[eE][-+]?\d+)?)"""
    r"""|(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`)"""
    r"""|(?P<op>\*\*|==|!=|>=|<=|&&|\|\||\?\?|\?\.|=~|!~|\.\.|[<>!()\[\]{}+\-*/%?:,.#^])"""
    r"""|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*))"""
)
RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
WORD_OPERATORS = {"and": "&&", "or": "||", "not": "!"}
BINARY = {  # operator -> (left binding power, right binding power)
    "??": (5, 6), "||": (10, 11), "&&": (15, 16),
    "==": (20, 21), "!=": (20, 21), "<": (20, 21), ">": (20, 21), "<=": (20, 21), ">=": (20, 21),
    "=~": (20, 21), "!~": (20, 21), "in": (20, 21), "matches": (20, 21), "contains": (20, 21),
    "startsWith": (20, 21), "endsWith": (20, 21), "..": (25, 26),
    "+": (30, 31), "-": (30, 31), "*": (60, 61), "/": (60, 61), "%": (60, 61), "**": (101, 100), "^": (101, 100),
}  # fmt: skip
UNARY_POWER = 90
CLOSURE_FUNCTIONS = ("map", "filter", "all", "any", "none", "one", "count", "find", "findIndex", "sortBy", "groupBy")


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | op | name | end
    text: str
    column: int


def tokens(text: str) -> list[Token]:
    position, found = 0, []
    while position < len(text):
        if not text[position:].strip():
            break
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise InputError(f"cannot parse expression {text.strip()!r} at column {position + 1}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "name" and value in WORD_OPERATORS:
            kind, value = "op", WORD_OPERATORS[value]
        found.append(Token(kind, value, match.start(kind) + 1))
        position = match.end()
    return [*found, Token("end", "", len(text) + 1)]


def unquote(text: str) -> str:
    if text[0] == "`":
        return text[1:-1]
    return json.loads('"' + text[1:-1].replace('\\"', '"').replace("\\'", "'").replace('"', '\\"') + '"')


# ---- syntax ------------------------------------------------------------------------------------------------
# Nodes are tuples: ("lit", v) ("name", n) ("pointer",) ("member", obj, key, optional) ("index", obj, key)
# ("slice", obj, lo, hi) ("call", callee, args) ("unary", op, x) ("binary", op, a, b) ("cond", c, a, b)
# ("array", items) ("map", [(key, value)]) ("closure", body)


class Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokens(text)
        self.position = 0

    def fail(self, message: str) -> InputError:
        token = self.tokens[self.position]
        return InputError(f"cannot parse expression {self.text.strip()!r} at column {token.column}: {message}")

    @property
    def peek(self) -> Token:
        return self.tokens[self.position]

    def take(self, text: str | None = None) -> Token:
        token = self.peek
        if text is not None and (token.kind not in ("op", "name") or token.text != text):
            raise self.fail(f"expected '{text}', found '{token.text or 'end'}'")
        self.position += 1
        return token

    def accept(self, text: str) -> bool:
        if self.peek.kind in ("op", "name") and self.peek.text == text:
            self.position += 1
            return True
        return False

    def parse(self) -> tuple:
        node = self.expression()
        if self.peek.kind != "end":
            raise self.fail(f"unexpected '{self.peek.text}'")
        return node

    def expression(self, power: int = 0) -> tuple:
        left = self.prefix()
        while True:
            token = self.peek
            if token.kind == "op" and token.text == "?" and power <= 1:
                self.take()
                yes = self.expression()
                self.take(":")
                left = ("cond", left, yes, self.expression(1))
                continue
            operator = token.text if token.kind in ("op", "name") else None
            negated = False
            if operator == "!" and self.tokens[self.position + 1].text in ("in", "matches"):
                negated, operator = True, self.tokens[self.position + 1].text
            if operator not in BINARY or BINARY[operator][0] < power:
                return left
            self.take()
            if negated:
                self.take()
            right = self.expression(BINARY[operator][1])
            left = ("binary", operator, left, right)
            if negated:
                left = ("unary", "!", left)

    def prefix(self) -> tuple:
        token = self.take()
        if token.kind == "number":
            node: tuple = (
                "lit",
                float(token.text) if "." in token.text or "e" in token.text.lower() else int(token.text),
            )
        elif token.kind == "string":
            node = ("lit", unquote(token.text))
        elif token.kind == "name":
            node = {"true": ("lit", True), "false": ("lit", False), "nil": ("lit", None)}.get(token.text) or (
                "name",
                token.text,
            )
        elif token.text in ("!", "-", "+"):
            node = ("unary", token.text, self.expression(UNARY_POWER))
        elif token.text == "(":
            node = self.expression()
            self.take(")")
        elif token.text == "[":
            node = ("array", self.sequence("]"))
        elif token.text == "{":
            node = self.braces()
        elif token.text == "#":
            node = ("pointer",)
        elif token.text == ".":  # `.field` inside a closure is `#.field`
            node = ("member", ("pointer",), self.take().text, False)
        else:
            self.position -= 1
            raise self.fail(f"unexpected '{token.text or 'end'}'")
        return self.postfix(node)

    def sequence(self, close: str) -> list[tuple]:
        items = []
        while not self.accept(close):
            items.append(self.expression())
            if not self.accept(","):
                self.take(close)
                break
        return items

    def braces(self) -> tuple:
        """`{key: value, ...}` (a map) or `{expr}` (a closure)."""
        after = self.tokens[self.position + 1]
        if self.peek.text == "}" or (self.peek.kind in ("name", "string", "number") and after.text == ":"):
            pairs = []
            while not self.accept("}"):
                key = self.take()
                pairs.append(
                    (unquote(key.text) if key.kind == "string" else key.text, self.take(":") and self.expression())
                )
                if not self.accept(","):
                    self.take("}")
                    break
            return ("map", pairs)
        body = self.expression()
        self.take("}")
        return ("closure", body)

    def postfix(self, node: tuple) -> tuple:
        while True:
            if self.peek.text in (".", "?.") and self.peek.kind == "op":
                optional = self.take().text == "?."
                node = ("member", node, self.take().text, optional)
            elif self.accept("["):
                if self.accept(":"):
                    node = ("slice", node, None, None if self.peek.text == "]" else self.expression())
                else:
                    index = self.expression()
                    if self.accept(":"):
                        node = ("slice", node, index, None if self.peek.text == "]" else self.expression())
                    else:
                        node = ("index", node, index)
                self.take("]")
            elif self.peek.text == "(" and self.peek.kind == "op" and node[0] in ("name", "member"):
                self.take()
                node = ("call", node, self.sequence(")"))
            else:
                return node


# ---- evaluation --------------------------------------------------------------------------------------------


class Unresolved(Exception):
    """A name the environment does not have."""


def number(value: Any) -> float | int:
    if isinstance(value, bool):
        raise TypeError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return float(text)


def as_int(value: Any) -> int:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ValueError(f"asInt: {value!r} is not an integer") from None
    return int(number(value))


def go_json(value: Any) -> str:
    """JSON as Go's encoding/json writes it: compact, and a whole float64 without a fraction."""

    def plain(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
            return int(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return [plain(x) for x in v] if isinstance(v, list) else v

    return json.dumps(plain(value), separators=(",", ":"))


def render(value: Any) -> str:
    """A value as Argo writes it into a template: strings as they are, numbers like Go's %v, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    return go_json(value)


def jsonpath(document: Any, path: str) -> Any:
    """Argo's jsonpath(json, path): one value for a definite path, a list where the path can match many."""
    from jsonpath_ng.ext import parse

    data = json.loads(document) if isinstance(document, str) else document
    try:
        matches = [m.value for m in parse(path).find(data)]
    except Exception as error:  # jsonpath_ng raises its own lexer/parser errors
        raise ValueError(f"jsonpath {path!r}: {error}") from None
    if re.search(r"\*|\?|\.\.|\[[^\]]*[:,][^\]]*\]", path):
        return matches
    if not matches:
        raise ValueError(f"jsonpath {path!r}: unknown key")
    return matches[0]


GO_LAYOUT = {"2006": "%Y", "01": "%m", "02": "%d", "15": "%H", "04": "%M", "05": "%S", "Jan": "%b", "Mon": "%a"}


def go_date(layout: str, when: Any) -> str:
    """sprig's date: Go layout over a time; sprig formats the current time for anything that is not one."""
    moment = datetime.fromtimestamp(when, UTC) if isinstance(when, int | float) else datetime.now(UTC)
    return moment.strftime(re.sub("|".join(GO_LAYOUT), lambda m: GO_LAYOUT[m.group(0)], layout))


SPRIG: dict[str, Callable[..., Any]] = {
    "b64dec": lambda s: base64.b64decode(str(s)).decode(),
    "b64enc": lambda s: base64.b64encode(str(s).encode()).decode(),
    "add": lambda *v: sum(as_int(x) for x in v),
    "sub": lambda a, b: as_int(a) - as_int(b),
    "mul": lambda *v: math.prod(as_int(x) for x in v),
    "div": lambda a, b: as_int(a) // as_int(b),
    "mod": lambda a, b: as_int(a) % as_int(b),
    "max": lambda *v: max(as_int(x) for x in v),
    "min": lambda *v: min(as_int(x) for x in v),
    "int": as_int,
    "atoi": as_int,
    "float64": lambda v: float(number(v)),
    "toString": render,
    "trim": lambda s: str(s).strip(),
    "upper": lambda s: str(s).upper(),
    "lower": lambda s: str(s).lower(),
    "title": lambda s: str(s).title(),
    "replace": lambda old, new, s: str(s).replace(old, new),
    "contains": lambda part, s: part in str(s),
    "hasPrefix": lambda p, s: str(s).startswith(p),
    "hasSuffix": lambda p, s: str(s).endswith(p),
    "split": lambda sep, s: {f"_{i}": p for i, p in enumerate(str(s).split(sep))},
    "splitList": lambda sep, s: str(s).split(sep),
    "join": lambda sep, items: sep.join(map(render, items)),
    "default": lambda fallback, value=None: value if value not in (None, "", [], {}, 0, False) else fallback,
    "empty": lambda value: value in (None, "", [], {}, 0, False),
    "quote": lambda s: json.dumps(render(s)),
    "date": go_date,
    "now": lambda: datetime.now(UTC).timestamp(),
    "toJson": go_json,
    "fromJson": lambda s: json.loads(s),
    "list": lambda *v: list(v),
    "dict": lambda *v: dict(zip(v[::2], v[1::2], strict=False)),
    "repeat": lambda n, s: str(s) * as_int(n),
    "trunc": lambda n, s: str(s)[: as_int(n)],
    "sha256sum": lambda s: __import__("hashlib").sha256(str(s).encode()).hexdigest(),
}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "asInt": as_int,
    "asFloat": lambda v: float(number(v)),
    "int": lambda v: int(number(v)),
    "float": lambda v: float(number(v)),
    "string": render,
    "toJson": go_json,
    "fromJson": lambda s: json.loads(s),
    "fromJSON": lambda s: json.loads(s),
    "toJSON": go_json,
    "jsonpath": jsonpath,
    "len": len,
    "abs": abs,
    "upper": lambda s: s.upper(),
    "lower": lambda s: s.lower(),
    "trim": lambda s, chars=None: s.strip(chars),
    "split": lambda s, sep: s.split(sep),
    "join": lambda items, sep="": sep.join(items),
    "keys": lambda m: list(m),
    "values": lambda m: list(m.values()),
    "first": lambda items: items[0] if items else None,
    "last": lambda items: items[-1] if items else None,
    "max": lambda *v: max(v[0] if len(v) == 1 else v),
    "min": lambda *v: min(v[0] if len(v) == 1 else v),
    "sum": lambda items: sum(items),
    "toBase64": lambda s: base64.b64encode(s.encode()).decode(),
    "fromBase64": lambda s: base64.b64decode(s).decode(),
    "now": lambda: datetime.now(UTC).timestamp(),
    "duration": lambda s: s,
}


def equal(a: Any, b: Any) -> bool:
    if (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return a == b
    return type(a) is type(b) and a == b or (a is None and b is None)


class Evaluator:
    """Evaluates a syntax tree. `loose` is govaluate's reading of a substituted `when`: unknown names are the
    words themselves, and two values that both read as numbers compare as numbers."""

    def __init__(self, env: dict[str, Any], loose: bool = False):
        self.env = env
        self.loose = loose

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

    def run(self, node: tuple, pointer: Any = None) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "name":
            return self.name(node[1])
        if kind == "pointer":
            return pointer
        if kind == "array":
            return [self.run(item, pointer) for item in node[1]]
        if kind == "map":
            return {key: self.run(value, pointer) for key, value in node[1]}
        if kind == "member":
            target = self.run(node[1], pointer)
            if target is None and node[3]:
                return None
            if isinstance(target, dict):
                if node[2] not in target:
                    if target is SPRIG:
                        raise ValueError(f"sprig.{node[2]} is not supported here")
                    raise Unresolved(node[2])
                return target[node[2]]
            raise ValueError(f"cannot read .{node[2]} of {render(target)!r}")
        if kind == "index":
            target, key = self.run(node[1], pointer), self.run(node[2], pointer)
            if isinstance(target, dict):
                if key not in target:
                    raise Unresolved(str(key))
                return target[key]
            if isinstance(target, list | str):
                return target[int(key)]
            raise ValueError(f"cannot index {render(target)!r}")
        if kind == "slice":
            target = self.run(node[1], pointer)
            low = None if node[2] is None else int(self.run(node[2], pointer))
            high = None if node[3] is None else int(self.run(node[3], pointer))
            return target[low:high]
        if kind == "call":
            return self.call(node, pointer)
        if kind == "unary":
            value = self.run(node[2], pointer)
            if node[1] == "!":
                return not self.truth(value)
            return -number(value) if node[1] == "-" else number(value)
        if kind == "cond":
            return self.run(node[2] if self.truth(self.run(node[1], pointer)) else node[3], pointer)
        if kind == "closure":
            raise ValueError("a closure {...} is only allowed as an argument of map, filter, all, any, ...")
        return self.binary(node, pointer)

    def truth(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if self.loose and isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        raise ValueError(f"{render(value)!r} is not a boolean")

    def call(self, node: tuple, pointer: Any) -> Any:
        callee, arguments = node[1], node[2]
        if callee[0] == "name" and callee[1] in CLOSURE_FUNCTIONS and callee[1] not in self.env:
            items = self.run(arguments[0], pointer)
            body = arguments[1][1] if len(arguments) > 1 and arguments[1][0] == "closure" else arguments[1]
            return self.closure(callee[1], items, body)
        function = self.run(callee, pointer)
        if not callable(function):
            raise ValueError(f"{render(function)!r} is not a function")
        return function(*[self.run(a, pointer) for a in arguments])

    def closure(self, name: str, items: Any, body: tuple) -> Any:
        if not isinstance(items, list | dict):
            raise ValueError(f"{name}: cannot iterate over {render(items)[:40]!r} (fromJSON turns JSON into a list)")
        results = [self.run(body, item) for item in items]
        if name == "map":
            return results
        truths = [self.truth(r) for r in results] if name != "sortBy" and name != "groupBy" else results
        if name == "filter":
            return [item for item, keep in zip(items, truths, strict=True) if keep]
        if name == "count":
            return sum(truths)
        if name == "find":
            return next((item for item, keep in zip(items, truths, strict=True) if keep), None)
        if name == "findIndex":
            return next((i for i, keep in enumerate(truths) if keep), -1)
        if name == "sortBy":
            return [item for _, item in sorted(zip(results, items, strict=True), key=lambda pair: pair[0])]
        if name == "groupBy":
            groups: dict[Any, list] = {}
            for key, item in zip(results, items, strict=True):
                groups.setdefault(key, []).append(item)
            return groups
        return {"all": all(truths), "any": any(truths), "none": not any(truths), "one": sum(truths) == 1}[name]

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
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[operator]

    def binary(self, node: tuple, pointer: Any) -> Any:
        operator = node[1]
        if operator == "??":
            try:
                value = self.run(node[2], pointer)
            except Unresolved:
                value = None
            return self.run(node[3], pointer) if value is None else value
        a = self.run(node[2], pointer)
        if operator in ("&&", "||"):
            if self.truth(a) == (operator == "||"):
                return self.truth(a)
            return self.truth(self.run(node[3], pointer))
        b = self.run(node[3], pointer)
        if operator in ("==", "!=", "<", ">", "<=", ">="):
            return self.compare(operator, a, b)
        if operator in ("matches", "=~"):
            return re.search(str(b), str(a)) is not None
        if operator == "!~":
            return re.search(str(b), str(a)) is None
        if operator == "in":
            return a in b
        if operator == "contains":
            return str(b) in str(a)
        if operator == "startsWith":
            return str(a).startswith(str(b))
        if operator == "endsWith":
            return str(a).endswith(str(b))
        if operator == "..":
            return list(range(int(a), int(b) + 1))
        if operator == "+" and (isinstance(a, str) or isinstance(b, str)):
            if self.loose or (isinstance(a, str) and isinstance(b, str)):
                return render(a) + render(b)
            raise ValueError(f"cannot add {render(a)!r} and {render(b)!r}")
        if operator == "+" and isinstance(a, list) and isinstance(b, list):
            return a + b
        x, y = number(a), number(b)
        if operator == "/":
            return x / y
        if operator == "%":
            return int(x) % int(y)
        if operator in ("**", "^"):
            return float(x**y)
        return {"+": x + y, "-": x - y, "*": x * y}[operator]


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
                child = scope[part] = {} if not isinstance(child, dict) else child
            scope = child
        if parts[-1] not in scope or not isinstance(scope[parts[-1]], dict):
            scope[parts[-1]] = value
    return env


def evaluate(text: str, variables: dict[str, Any], loose: bool = False) -> Any:
    """The value of an expression over `variables` (flat dotted names). Raises InputError for what does not
    parse or evaluate, Unresolved (a subclass of nothing the caller catches by accident) for an unknown name."""
    tree = Parser(text).parse()
    try:
        return Evaluator(nested(variables) if not loose else variables, loose).run(tree)
    except Unresolved:
        raise
    except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, AttributeError, OverflowError) as error:
        raise InputError(f"cannot evaluate {text.strip()!r}: {error}") from None


def condition(text: str) -> bool:
    """A `when` condition after substitution, as govaluate reads it."""
    try:
        value = evaluate(text, {}, loose=True)
    except Unresolved as error:  # not reachable in loose mode; kept for the type checker
        raise InputError(f"when {text!r}: unknown name {error}") from None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise InputError(f"when {text.strip()!r}: {render(value)!r} is not a boolean")


def depends(
    text: str, results: dict[str, str], group: dict[str, list[str]] | None = None, continued: set[str] | None = None
) -> bool:
    """Enhanced depends logic. `results`: task name -> its final phase. A bare name means it succeeded,
    was skipped, is a daemon, or failed with continueOn allowing it (`continued`); `group`: a looped task's
    children's phases (for AnySucceeded/AllFailed)."""
    truths = {}
    for name in depends_on(text):
        if name not in results:
            raise InputError(f"depends {text!r}: no task named '{name}'")
    for reference in words(text):
        name, _, result = reference.rpartition(".") if reference.rsplit(".", 1)[-1] in RESULTS else (reference, "", "")
        phase, children = results[name], (group or {}).get(name, [])
        if not result:
            truth = phase in ("Succeeded", "Skipped", "Daemoned") or name in (continued or set())
        elif result == "AnySucceeded":
            truth = "Succeeded" in children or phase == "Succeeded" and not children
        elif result == "AllFailed":
            truth = (
                bool(children) and all(p in ("Failed", "Error") for p in children) or not children and phase == "Failed"
            )
        elif result == "Errored":
            truth = phase == "Error"
        else:
            truth = phase == result
        truths[reference] = truth
    # task names may hold '-' and '.', so each reference is replaced by a placeholder before parsing
    placeholders = {f"_r{i}": truths[w] for i, w in enumerate(sorted(truths, key=len, reverse=True))}
    expression = text
    for key, reference in zip(placeholders, sorted(truths, key=len, reverse=True), strict=True):
        expression = re.sub(rf"(?<![\w.-]){re.escape(reference)}(?![\w.-])", key, expression)
    return bool(evaluate(expression, placeholders))


DEPENDS_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def words(text: str) -> list[str]:
    return list(dict.fromkeys(DEPENDS_WORD.findall(text)))


def depends_on(text: str) -> list[str]:
    """The task names a depends expression mentions."""
    names = []
    for word in words(text):
        name = word.rpartition(".")[0] if word.rsplit(".", 1)[-1] in RESULTS else word
        names.append(name)
    return list(dict.fromkeys(names))


def handled_results(text: str) -> set[str]:
    """Tasks whose failure a depends expression explicitly reacts to (.Failed, .Errored, .AllFailed, .Omitted...)."""
    handling = ("Failed", "Errored", "AllFailed")
    return {word.rpartition(".")[0] for word in words(text) if word.rsplit(".", 1)[-1] in handling}


def retry_allowed(expression: str, status: str, exit_code: int | None, duration: float = 0.0) -> bool:
    """retryStrategy.expression over lastRetry.status, lastRetry.exitCode and lastRetry.duration."""
    variables = {"lastRetry.status": status, "lastRetry.exitCode": "-1" if exit_code is None else str(exit_code),
                 "lastRetry.duration": str(int(duration))}  # fmt: skip
    try:
        value = evaluate(expression, variables)
    except Unresolved as error:
        raise InputError(f"retryStrategy.expression {expression!r}: unknown name '{error}'") from None
    return value is True


def expression_tag(text: str, variables: dict[str, Any]) -> str:
    """The value of a `{{=...}}` tag."""
    try:
        return render(evaluate(text, variables))
    except Unresolved as error:
        raise InputError(f"'{{{{={text.strip()}}}}}': no such variable '{error}' here") from None


def substitute(text: str, variables: dict[str, Any], strict: bool = True) -> str:
    """Replace every `{{name}}` and `{{=expr}}` tag; an unknown name is an error when `strict`, and the tag
    is kept as it is otherwise."""

    def simple(match: re.Match) -> str:
        name = match.group(1)
        if name in variables:
            return render(variables[name])
        if strict:
            raise InputError(f"'{{{{{name}}}}}': no such variable here")
        return match.group(0)

    def expression(match: re.Match) -> str:
        try:
            return expression_tag(match.group(1), variables)
        except InputError:
            if strict:
                raise
            return match.group(0)

    return SIMPLE_TAG.sub(simple, replace_expressions(text, expression))


def expression_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each `{{=...}}` tag; its braces and strings may hold `}` (closures, maps)."""
    spans, start = [], text.find("{{=")
    while start >= 0:
        depth, position, quote = 0, start + 3, ""
        while position < len(text):
            char = text[position]
            if quote:
                position += 2 if char == "\\" else 1
                quote = "" if char == quote else quote
                continue
            if char in "'\"`":
                quote = char
            elif char == "{":
                depth += 1
            elif char == "}":
                if depth == 0 and text.startswith("}}", position):
                    spans.append((start, position + 2))
                    break
                depth -= 1
            position += 1
        else:
            raise InputError(f"unterminated expression tag at {text[start : start + 40]!r}")
        start = text.find("{{=", position + 2)
    return spans


class Tag:
    """A `{{=...}}` match: group(1) is the expression, group(0) the whole tag."""

    def __init__(self, text: str, span: tuple[int, int]):
        self.whole, self.body = text[span[0] : span[1]], text[span[0] + 3 : span[1] - 2]

    def group(self, index: int) -> str:
        return self.body if index == 1 else self.whole


def replace_expressions(text: str, replace: Callable[[Tag], str]) -> str:
    out, last = [], 0
    for span in expression_spans(text):
        out += [text[last : span[0]], replace(Tag(text, span))]
        last = span[1]
    return "".join(out) + text[last:]


def expression_tags(text: str) -> list[str]:
    """The expression of each `{{=...}}` tag of a text."""
    return [text[a + 3 : b - 2] for a, b in expression_spans(text)]


def _chain(node: tuple) -> list[str] | None:
    """`tasks['a-b'].outputs.result` -> [tasks, a-b, outputs, result]; None unless names, members and
    literal indexes all the way down."""
    if node[0] == "name":
        return [node[1]]
    if node[0] == "member" or node[0] == "index" and node[2][0] == "lit" and isinstance(node[2][1], str | int):
        base = _chain(node[1])
        return None if base is None else [*base, str(node[2] if node[0] == "member" else node[2][1])]
    return None


def variable_paths(text: str) -> list[str]:
    """The dotted variable names an expression reads, known before it runs (`inputs.parameters.x`,
    `tasks.a-b.outputs.result`): a name indexed by something computed is left out, its key is not known."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if not isinstance(node, tuple) or not node or node[0] in ("lit", "pointer"):
            return
        chain = _chain(node) if node[0] in ("name", "member", "index") else None
        if chain:
            found.append(".".join(chain))
            return
        if node[0] == "call":
            parts: list[Any] = list(node[2])
        elif node[0] == "index" and _chain(node[1]):
            parts = [node[2]]  # a computed key: its base is a prefix of some variable, not one
        elif node[0] == "map":
            parts = [value for _, value in node[1]]
        else:
            parts = [part for item in node[1:] for part in (item if isinstance(item, list) else [item])]
        for part in parts:
            walk(part)

    walk(Parser(text).parse())
    return found


def arguments(call: dict[str, Any], variables: dict[str, Any], strict: bool = True) -> dict[str, str]:
    """The parameter values a task or step passes, their tags substituted."""
    return {p["name"]: substitute(str(p.get("value", "")), variables, strict)
            for p in parameters(call.get("arguments")) if "value" in p}  # fmt: skip
