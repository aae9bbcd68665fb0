"""A task's or step's loop: the items of withItems, withParam or withSequence, and what each child sees."""

from __future__ import annotations

import json
from collections.abc import Sized
from typing import Any

from fmops.argo.local import expressions
from fmops.argo.local.limits import MAX_LOOP_ITEMS
from fmops.core.errors import InputError


def loop_items(call: dict[str, Any], variables: dict[str, Any]) -> list[Any] | None:
    """The items of withItems, withParam or withSequence (their tags substituted), or None for no loop."""
    if "withItems" in call:
        return bounded([substitute_item(item, variables) for item in bounded(call["withItems"] or [])])
    if "withParam" in call:
        return bounded(param_items(expressions.substitute(str(call["withParam"]), variables)))
    if "withSequence" in call:
        sequence = {k: expressions.substitute(str(v), variables) for k, v in (call["withSequence"] or {}).items()}
        return sequence_items(sequence)
    return None


def bounded(items: Sized) -> Any:
    """`items`, when a loop of them may run here."""
    if len(items) > MAX_LOOP_ITEMS:
        raise InputError(f"a loop of {len(items)} items: at most {MAX_LOOP_ITEMS} run here")
    return items


def whole_number(sequence: dict[str, str], key: str, default: int) -> int:
    text = str(sequence.get(key, default)).strip()
    if not text.lstrip("-").isdigit() or len(text) > 18:
        raise InputError(f"withSequence.{key}: {text[:40]!r} is not a whole number")
    return int(text)


def param_items(text: str) -> list[Any]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        raise InputError(f"withParam: {text[:80]!r} is not a JSON list") from None
    if not isinstance(items, list):
        raise InputError(f"withParam: {text[:80]!r} is not a JSON list")
    return items


def sequence_items(sequence: dict[str, str]) -> list[str]:
    start = whole_number(sequence, "start", 0)
    end = start + whole_number(sequence, "count", 0) - 1 if "count" in sequence else whole_number(sequence, "end", 0)
    step = 1 if end >= start else -1
    bounded(range(start, end + step, step))
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
