"""The structural check of a Workflow file as `fmops run` loads it: every field the executor reads has the
type it needs (a mapping, a list, a whole number, ...), so a wrong one is one line naming the file and the
field (`wf.yaml: spec.templates[0].steps: expected a list`), never a traceback halfway through a run. The
shapes are data: structure.yaml."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from fmops.argo.documents import Document
from fmops.core.errors import InputError

SHAPES: dict[str, Any] = yaml.safe_load((Path(__file__).parent / "structure.yaml").read_text(encoding="utf-8"))
# A resource's name becomes the run's directory name: no '/', no '..'.
RESOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
WHOLE_NUMBER = re.compile(r"\s*-?\d{1,18}\s*")
SHOWN = 3  # problems named in the one line


def check(document: Document) -> None:
    """Raise InputError naming the first fields of `document` whose type the executor cannot use."""
    shape = "cron" if document.kind == "CronWorkflow" else "document"
    found = list(problems(document.manifest, shape, ""))
    metadata = document.manifest.get("metadata") or {}
    for key in ("name", "generateName"):
        value = metadata.get(key) if isinstance(metadata, dict) else None
        if isinstance(value, str) and not RESOURCE_NAME.fullmatch(value):
            found.append(f"metadata.{key}: {value[:60]!r} is not a resource name (letters, digits, '.', '-')")
    if found:
        raise InputError(f"{document.file}: " + "; ".join(found[:SHOWN]))


def problems(value: Any, shape: Any, where: str) -> Iterator[str]:
    """What is wrong with `value` as a `shape` (see structure.yaml) at the field path `where`."""
    if value is None:
        return
    if isinstance(shape, dict):
        yield from fields(value, shape, where)
    elif shape.startswith("list of "):
        if not isinstance(value, list):
            yield f"{where}: expected a list"
            return
        inner = shape.removeprefix("list of ")
        for index, item in enumerate(value):
            if item is None and inner not in ("any", "text"):
                yield f"{where}[{index}]: empty"
            yield from problems(item, inner, f"{where}[{index}]")
    elif shape.startswith("map of "):
        if not isinstance(value, dict):
            yield f"{where}: expected a mapping"
            return
        for key, item in value.items():
            yield from problems(item, shape.removeprefix("map of "), f"{where}.{key}")
    elif shape in SHAPES:
        yield from problems(value, SHAPES[shape], where)
    else:
        wrong = scalar_problem(value, shape)
        if wrong:
            yield f"{where}: {wrong}"


def fields(value: Any, shape: dict[str, Any], where: str) -> Iterator[str]:
    if not isinstance(value, dict):
        yield f"{where or 'the document'}: expected a mapping"
        return
    for key, inner in shape.items():
        required = isinstance(inner, str) and inner.endswith("!")
        inner = inner.removesuffix("!") if isinstance(inner, str) else inner
        path = f"{where}.{key}" if where else key
        if value.get(key) is None:
            if required:
                yield f"{path}: missing"
            continue
        yield from problems(value[key], inner, path)
    if "from" in shape and isinstance(value.get("from"), str) and "{{" not in value["from"]:
        # a local path here would copy a host file into the run: Argo's `from` names another step's artifact
        yield f"{where}.from: {value['from'][:60]!r} does not name an artifact ({{{{steps.X.outputs.artifacts.Y}}}})"


def scalar_problem(value: Any, kind: str) -> str | None:
    if kind == "any":
        return None
    if kind == "name":
        return None if isinstance(value, str) else "expected a string"
    if isinstance(value, dict | list):
        return "expected a string, number or true/false"
    if kind == "int":
        if isinstance(value, bool) or isinstance(value, float):
            return "expected a whole number"
        if isinstance(value, str) and "{{" not in value and not WHOLE_NUMBER.fullmatch(value):
            return f"{value[:40]!r} is not a whole number"
    return None
