"""Argo's rule for a parameter's value, as the executor applies it to workflow arguments and template inputs:
the value passed, else the declaration's `value` or `default`, else (when required) an error; then its `enum`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fmops.core.errors import InputError


def declared_value(parameter: dict[str, Any], config_map: Callable[[str, str], str] | None = None) -> str | None:
    """The value a declaration gives when nothing is passed (`value` wins over `valueFrom.configMapKeyRef`,
    which wins over `default`), or None."""
    if "value" in parameter:
        return str(parameter["value"])
    ref = (parameter.get("valueFrom") or {}).get("configMapKeyRef")
    if ref and config_map is not None:
        return config_map(ref.get("name"), ref.get("key"))
    if "default" in parameter:
        return str(parameter["default"])
    return None


def bind(
    declared: list[dict[str, Any]],
    passed: Mapping[str, str],
    *,
    expand: Callable[[str], str] = str,
    config_map: Callable[[str, str], str] | None = None,
    missing: str | None,
    not_allowed: str | None,
) -> dict[str, str]:
    """name -> value for every declared parameter. `expand` fills the variables of a declared value.
    `config_map(name, key)` reads a ConfigMap's key. `missing` and `not_allowed` are the error messages
    (formatted with name, value, enum, choices); None means the caller cannot know yet (a static look ahead):
    a missing value is then empty and no enum is checked."""
    values = {}
    for parameter in declared:
        name = parameter["name"]
        fallback = declared_value(parameter, config_map)
        if name in passed:
            value = passed[name]
        elif fallback is not None:
            value = expand(fallback)
        elif missing is None:
            value = ""
        else:
            raise InputError(missing.format(name=name))
        enum = parameter.get("enum")
        if enum and not_allowed is not None and value not in [str(v) for v in enum]:
            raise InputError(not_allowed.format(name=name, value=value, enum=enum, choices=", ".join(map(str, enum))))
        values[name] = value
    return values
