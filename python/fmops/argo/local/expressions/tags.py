"""`{{...}}` tags in a template's text: simple ones are looked up in a flat dict of variables
(inputs.parameters.x, workflow.name, item, ...), `{{=...}}` ones are evaluated as expr expressions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fmops.argo.documents import SIMPLE_TAG, parameters
from fmops.argo.local.expressions.evaluator import Unresolved, evaluate
from fmops.argo.local.expressions.functions import render
from fmops.core.errors import InputError


def expression_tag(text: str, variables: dict[str, Any]) -> str:
    """The value of a `{{=...}}` tag."""
    try:
        value = evaluate(text, variables)
    except Unresolved as error:
        raise InputError(f"'{{{{={text.strip()[:80]}}}}}': no such variable '{str(error)[:80]}' here") from None
    try:
        return render(value)
    except (TypeError, ValueError):  # a function, or what holds one (`len`, `sprig`)
        raise InputError(f"'{{{{={text.strip()[:80]}}}}}': not a value that can be written into a template") from None


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

    def expression(tag: Tag) -> str:
        try:
            return expression_tag(tag.body, variables)
        except InputError:
            if strict:
                raise
            return tag.whole

    return SIMPLE_TAG.sub(simple, replace_expressions(text, expression))


def expression_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each `{{=...}}` tag; its braces and strings may hold `}` (closures, maps)."""
    spans, start = [], text.find("{{=")
    while start >= 0:
        end = tag_end(text, start)
        spans.append((start, end))
        start = text.find("{{=", end)
    return spans


def tag_end(text: str, start: int) -> int:
    """Where the `{{=...}}` tag that begins at `start` ends (just past its `}}`)."""
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
                return position + 2
            depth -= 1
        position += 1
    raise InputError(f"unterminated expression tag at {text[start : start + 40]!r}")


class Tag:
    """One `{{=...}}` tag of a text: `whole` is the tag, `body` its expression."""

    def __init__(self, text: str, span: tuple[int, int]):
        self.whole, self.body = text[span[0] : span[1]], text[span[0] + 3 : span[1] - 2]


def replace_expressions(text: str, replace: Callable[[Tag], str]) -> str:
    out, last = [], 0
    for span in expression_spans(text):
        out += [text[last : span[0]], replace(Tag(text, span))]
        last = span[1]
    return "".join(out) + text[last:]


def expression_tags(text: str) -> list[str]:
    """The expression of each `{{=...}}` tag of a text."""
    return [text[a + 3 : b - 2] for a, b in expression_spans(text)]


def arguments(call: dict[str, Any], variables: dict[str, Any], strict: bool = True) -> dict[str, str]:
    """The parameter values a task or step passes, their tags substituted."""
    passed = [p for p in parameters(call.get("arguments")) if "value" in p]
    return {p["name"]: substitute(str(p["value"]), variables, strict) for p in passed}
