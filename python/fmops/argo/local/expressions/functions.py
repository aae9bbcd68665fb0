"""The values of the expr language and the functions it calls: Argo's own (asInt, toJson, jsonpath, ...) and
the sprig.* helpers. Each table maps a function's name to a Python callable over evaluated arguments."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fmops.argo.local.limits import MAX_TEXT


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


def repeat(count: int, text: str) -> str:
    if count * len(text) > MAX_TEXT:
        raise ValueError(f"sprig.repeat: more than {MAX_TEXT} characters")
    return text * count


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
    "repeat": lambda n, s: repeat(as_int(n), str(s)),
    "trunc": lambda n, s: str(s)[: as_int(n)],
    "sha256sum": lambda s: hashlib.sha256(str(s).encode()).hexdigest(),
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
