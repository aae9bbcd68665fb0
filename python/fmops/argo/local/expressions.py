"""Argo's little languages, as far as fmops run needs them.

- `{{...}}` simple tags: looked up in a flat dict of variables (inputs.parameters.x, workflow.name, ...);
- `{{=...}}` expression tags: arithmetic and comparisons over those variables, with asInt/asFloat/string;
- `when`: a govaluate-style condition on the already-substituted text (`'true' == 'true'`, `2 > 1`,
  `a == a && !(b == c)`); bare words are strings, and two sides that both read as numbers compare as numbers;
- `depends`: enhanced depends logic over task results (`A && (B.Succeeded || C.Failed)`);
- retryStrategy.expression: over lastRetry.status / lastRetry.exitCode.
Argo's evaluators are Go libraries with no Python port; these translate each form into a Python expression
over a few literal types and evaluate it with no builtins, after a strict tokenisation.
"""

from __future__ import annotations

import re
from typing import Any

from fmops.argo.documents import EXPRESSION_TAG, SIMPLE_TAG, parameters
from fmops.core.errors import InputError

TOKEN = re.compile(
    r"""\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>'[^']*'|"[^"]*")|(?P<op>==|!=|>=|<=|&&|\|\||[<>!()+\-*/%?:,])"""
    r"""|(?P<word>[A-Za-z_][A-Za-z0-9_.\-\[\]']*))"""
)
RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")


class Literal(str):
    """A string that compares as a number when both sides read as numbers (as govaluate does after Argo
    substitutes `{{...}}` into the text)."""

    def _pair(self, other: Any) -> tuple[Any, Any]:
        try:
            return float(self), float(other)
        except (TypeError, ValueError):
            return str(self), str(other)

    def __eq__(self, other: Any) -> bool:
        a, b = self._pair(other)
        return a == b

    def __ne__(self, other: Any) -> bool:
        return not self == other

    def __lt__(self, other: Any) -> bool:
        a, b = self._pair(other)
        return a < b

    def __gt__(self, other: Any) -> bool:
        a, b = self._pair(other)
        return a > b

    def __le__(self, other: Any) -> bool:
        return self < other or self == other

    def __ge__(self, other: Any) -> bool:
        return self > other or self == other

    __hash__ = str.__hash__


def tokens(text: str) -> list[tuple[str, str]]:
    position, found = 0, []
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise InputError(f"cannot parse expression {text!r} at column {position + 1}")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


def _python(text: str, word: Any, arithmetic: bool = False) -> str:
    """Translate tokens to Python source; `word(name)` decides what a bare word becomes. Numbers are
    Literals in conditions (compared like strings or numbers) and plain numbers in arithmetic."""
    out = []
    for kind, value in tokens(text):
        if kind == "number":
            out.append(value if arithmetic else f"L({value!r})")
        elif kind == "string":
            out.append(f"L({value[1:-1]!r})")
        elif kind == "word":
            out.append(word(value))
        else:
            out.append({"&&": " and ", "||": " or ", "!": " not "}.get(value, f" {value} "))
    return "".join(out)


def _evaluate(source: str, names: dict[str, Any], original: str) -> Any:
    try:
        return eval(source, {"__builtins__": {}}, {"L": Literal, **names})  # noqa: S307 (tokenised above)
    except Exception as error:  # any evaluation error is the expression's fault
        raise InputError(f"cannot evaluate {original!r}: {error}") from None


def condition(text: str) -> bool:
    """A `when` condition after substitution."""
    return bool(_evaluate(_python(text, lambda value: f"L({value!r})"), {}, text))


def depends(text: str, results: dict[str, str], group: dict[str, list[str]] | None = None) -> bool:
    """Enhanced depends logic. `results`: task name -> its final phase. A bare name means it succeeded,
    was skipped, or is a daemon."""

    def word(value: str) -> str:
        name, _, result = value.rpartition(".") if value.rsplit(".", 1)[-1] in RESULTS else (value, "", "")
        if name not in results:
            raise InputError(f"depends {text!r}: no task named '{name}'")
        phase = results[name]
        if not result:
            truth = phase in ("Succeeded", "Skipped", "Daemoned")
        elif result == "AnySucceeded":
            truth = phase == "Succeeded" or "Succeeded" in (group or {}).get(name, [])
        elif result == "AllFailed":
            truth = phase == "Failed"
        else:
            truth = phase == result
        return str(truth)

    return bool(_evaluate(_python(text, word), {}, text))


def depends_on(text: str) -> list[str]:
    """The task names a depends expression mentions."""
    names = []
    for kind, value in tokens(text):
        if kind == "word":
            name = value.rpartition(".")[0] if value.rsplit(".", 1)[-1] in RESULTS else value
            names.append(name)
    return names


def retry_allowed(expression: str, status: str, exit_code: int | None) -> bool:
    """retryStrategy.expression over lastRetry.status and lastRetry.exitCode."""
    text = expression.replace(" and ", " && ").replace(" or ", " || ").replace(" not ", " ! ")
    names = {"lastRetry.status": status, "lastRetry.exitCode": "" if exit_code is None else str(exit_code)}

    def word(value: str) -> str:
        if value in names:
            return f"L({names[value]!r})"
        if value in ("asInt", "asFloat", "string"):
            return "L"
        raise InputError(f"retryStrategy.expression {expression!r}: unknown name '{value}'")

    return bool(_evaluate(_python(text, word), {}, expression))


def expression_tag(text: str, variables: dict[str, str]) -> str:
    """The value of a `{{=...}}` tag: arithmetic over variables, with asInt/asFloat/string."""

    def word(value: str) -> str:
        if value in variables:
            return f"L({variables[value]!r})"
        if value in ("asInt", "int"):
            return "_int"
        if value in ("asFloat", "float"):
            return "_float"
        if value == "string":
            return "str"
        raise InputError(f"expression {text!r}: unknown variable '{value}'")

    value = _evaluate(
        _python(text, word, arithmetic=True), {"_int": lambda v: int(float(v)), "_float": float, "str": str}, text
    )
    return str(int(value) if isinstance(value, float) and value.is_integer() else value)


def substitute(text: str, variables: dict[str, str], strict: bool = True) -> str:
    """Replace every `{{name}}` and `{{=expr}}` tag; an unknown name is an error when `strict`."""

    def simple(match: re.Match) -> str:
        name = match.group(1)
        if name in variables:
            return variables[name]
        if strict:
            raise InputError(f"'{{{{{name}}}}}': no such variable here")
        return match.group(0)

    text = EXPRESSION_TAG.sub(lambda m: expression_tag(m.group(1), variables), text) if strict else text
    return SIMPLE_TAG.sub(simple, text)


def arguments(call: dict[str, Any], variables: dict[str, str], strict: bool = True) -> dict[str, str]:
    """The parameter values a task or step passes, their tags substituted."""
    return {p["name"]: substitute(str(p.get("value", "")), variables, strict)
            for p in parameters(call.get("arguments"))}  # fmt: skip
