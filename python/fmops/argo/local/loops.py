"""A task's or step's loop: the items of withItems, withParam or withSequence, and what each child sees."""

from __future__ import annotations

import json
from typing import Any

from fmops.argo.local import expressions
from fmops.core.errors import InputError


def loop_items(call: dict[str, Any], variables: dict[str, Any]) -> list[Any] | None:
    """The items of withItems, withParam or withSequence (their tags substituted), or None for no loop."""
    if "withItems" in call:
        return [substitute_item(item, variables) for item in call["withItems"] or []]
    if "withParam" in call:
        return param_items(expressions.substitute(str(call["withParam"]), variables))
    if "withSequence" in call:
        sequence = {k: expressions.substitute(str(v), variables) for k, v in (call["withSequence"] or {}).items()}
        return sequence_items(sequence)
    return None


def param_items(text: str) -> list[Any]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        raise InputError(f"withParam: {text[:80]!r} is not a JSON list") from None
    if not isinstance(items, list):
        raise InputError(f"withParam: {text[:80]!r} is not a JSON list")
    return items


def sequence_items(sequence: dict[str, str]) -> list[str]:
    start = int(sequence.get("start", 0))
    end = start + int(sequence["count"]) - 1 if "count" in sequence else int(sequence.get("end", 0))
    step = 1 if end >= start else -1
    form = sequence.get("format")
    numbers = range(start, end + step, step)
    if not form:
        return [str(i) for i in numbers]
    return [form.replace("%02d", f"{i:02d}").replace("%d", str(i)) for i in numbers]


def substitute_item(item: Any, variables: dict[str, Any]) -> Any:
    if isinstance(item, str):
        return expressions.substitute(item, variables)
    if isinstance(item, dict):
        return {k: substitute_item(v, variables) for k, v in item.items()}
    if isinstance(item, list):
        return [substitute_item(v, variables) for v in item]
    return item


def item_variables(item: Any) -> dict[str, Any]:
    """`{{item}}` (a JSON text for objects and lists, as Argo writes it) and `{{item.key}}`."""
    values: dict[str, Any] = {"item": item}
    if isinstance(item, dict):
        values |= {f"item.{k}": v for k, v in item.items()}
    return values


def label(item: Any) -> str:
    """How an item shows in its child's node id: `task(0:label)`."""
    text = expressions.render(item)
    return text if len(text) <= 40 else text[:37] + "..."
