"""Stage configuration: defaults in a pydantic model, then a recipe or YAML file, then `--set key=value`
overrides (the CLI adds the `--config` and `--set` flags and passes their values here).

An unknown key, at any level, is an error that names the file (or flag) and the field.
Stages declare `class XConfig(StageConfig)` with a `Field(description=...)` per field.
"""

from __future__ import annotations

import posixpath
from importlib import resources
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from fmops.core import storage
from fmops.core.errors import InputError

C = TypeVar("C", bound="StageConfig")


class StageConfig(BaseModel):
    """Base of every stage config: keyword-only, unknown fields refused, assignments validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def recipe_uri(stage: str, name: str) -> str | None:
    """The packaged recipe `fmops/recipes/<stage>/<name>.yaml`, if there is one."""
    candidate = resources.files("fmops") / "recipes" / stage / f"{name}.yaml"
    return str(candidate) if candidate.is_file() else None


def _read_yaml(uri: str, including: tuple[str, ...] = ()) -> dict[str, tuple[Any, str]]:
    """The file's fields, each with the file that set it: an `include:` base beside it fills in the rest, so a
    recipe says only what differs, and an error names the file the bad key is in."""
    if uri in including:
        raise InputError(f"{uri}: includes itself (through {' -> '.join(including)})")
    if not storage.exists(uri):
        raise InputError(f"{uri}: config file does not exist")
    try:
        data = yaml.safe_load(storage.read_text(uri)) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise InputError(f"{uri}{line}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(data, dict):
        raise InputError(f"{uri}: expected a mapping of config fields")
    fields = {key: (value, uri) for key, value in data.items() if key != "include"}
    if "include" in data:
        base = posixpath.join(posixpath.dirname(uri), str(data["include"]))  # keeps s3:// (Path would not)
        fields = {**_read_yaml(base, (*including, uri)), **fields}
    return fields


def _parse_override(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise InputError(f"--set {text}: expected KEY=VALUE")
    try:
        return key.strip(), yaml.safe_load(raw)
    except yaml.YAMLError:
        return key.strip(), raw


def _first_error(error: ValidationError, source: str, origins: dict[str, str] | None = None) -> InputError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(root)"
    message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
    where = (origins or {}).get(str(first["loc"][0]), source) if first["loc"] else source
    return InputError(f"{where}: field '{field}': {message}")


def load(cls: type[C], stage: str, config: str = "", overrides: list[str] | None = None, **flags: Any) -> C:
    """Defaults < recipe/YAML (`config`) < explicit command-line flags (`flags`, None = not given) < --set."""
    values: dict[str, Any] = {}
    source = "defaults"
    if config:
        source = recipe_uri(stage, config) or config
        fields = _read_yaml(source)
        values.update({key: value for key, (value, _) in fields.items()})
        try:
            cls(**values)
        except ValidationError as error:
            raise _first_error(error, source, {key: origin for key, (_, origin) in fields.items()}) from None
    values.update({key: value for key, value in flags.items() if value is not None})
    try:
        cls(**values)
    except ValidationError as error:
        raise _first_error(error, "command line") from None
    for text in overrides or []:
        key, value = _parse_override(text)
        values[key] = value
        try:
            cls(**values)
        except ValidationError as error:
            raise _first_error(error, f"--set {text}") from None
    return cls(**values)
