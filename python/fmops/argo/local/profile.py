"""The local profile: what changes when the cluster's templates run on one machine.

Parameters a workflow declares are given local values unless `-p` sets them: storage-root and data-root
move under the run directory (so every s3:// URI the templates build becomes a local path), and the
deploy step targets the local server. Everything else keeps its template default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fmops.core.errors import InputError


def local_values(run_dir: Path) -> dict[str, str]:
    return {
        "storage-root": str(run_dir / "storage"),
        "data-root": str(run_dir / "data"),
        "deploy-target": "local",
    }


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    values = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise InputError(f"-p {text}: expected NAME=VALUE")
        values[name] = value
    return values


def workflow_parameters(spec: dict[str, Any], given: dict[str, str], run_dir: Path) -> tuple[dict[str, str], list[str]]:
    """Final workflow parameters and notes on what the local profile changed."""
    declared = {p["name"]: p for p in (spec.get("arguments") or {}).get("parameters") or []}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InputError(f"-p {unknown[0]}: not a parameter of this workflow (has: {', '.join(declared)})")
    values, notes = {}, []
    local = local_values(run_dir)
    for name, parameter in declared.items():
        if name in given:
            value = given[name]
        elif name in local:
            value = local[name]
            notes.append(f"local profile: {name}={value} (template default: {parameter.get('value', '')})")
        elif "value" in parameter or "default" in parameter:
            value = str(parameter.get("value", parameter.get("default")))
        else:
            raise InputError(f"parameter '{name}' has no default: pass -p {name}=VALUE")
        if parameter.get("enum") and value not in [str(v) for v in parameter["enum"]]:
            raise InputError(f"-p {name}={value}: must be one of {', '.join(map(str, parameter['enum']))}")
        values[name] = value
    return values, notes
