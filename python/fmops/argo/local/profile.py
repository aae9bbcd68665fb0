"""The local profile: what changes when the cluster's templates run on one machine.

Parameters a workflow declares are given local values unless `-p` sets them: storage-root and data-root
move under the run directory (so every s3:// URI the templates build becomes a local path), and the
deploy step targets the local server. Everything else keeps its template default.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fmops.argo.documents import parameters
from fmops.argo.local.parameters import bind
from fmops.core.errors import InputError


def local_values(run_dir: Path) -> dict[str, str]:
    return {
        "storage-root": str(run_dir / "storage"),
        "data-root": str(run_dir / "data"),
        "deploy-target": "local",
    }


def workflow_parameters(
    spec: dict[str, Any], given: dict[str, str], run_dir: Path, config_map: Callable[[str, str], str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Final workflow parameters and notes on what the local profile changed."""
    declared = {p["name"]: p for p in parameters(spec.get("arguments"))}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InputError(f"-p {unknown[0]}: not a parameter of this workflow (has: {', '.join(declared) or 'none'})")
    local = local_values(run_dir)
    changed = {name: local[name] for name in declared if name in local and name not in given}
    notes = [
        f"local profile: {name}={value} (template default: {declared[name].get('value', '')})"
        for name, value in changed.items()
    ]
    values = bind(
        list(declared.values()),
        {**given, **changed},
        config_map=config_map,
        missing="parameter '{name}' has no default: pass -p {name}=VALUE",
        not_allowed="-p {name}={value}: must be one of {choices}",
    )
    return values, notes
