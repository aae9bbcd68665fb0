"""A pod's artifacts on this machine: input artifacts staged where the pod expects them before it starts
(`raw` data, `from` another step's output, or a repository key under the run's artifact repository), and its
output parameters and artifacts read back from its files after it ends."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fmops.argo.documents import parameters
from fmops.argo.local.expressions import substitute
from fmops.argo.local.support import REPOSITORIES
from fmops.core.errors import InputError


def pod_path(path: str) -> str:
    return path.rstrip("/") or "/"


def repository_key(artifact: dict[str, Any]) -> str | None:
    """The key of an artifact kept in a repository (s3.key, gcs.key, ...), or None."""
    for kind in REPOSITORIES:
        if isinstance(artifact.get(kind), dict) and "key" in artifact[kind]:
            return str(artifact[kind]["key"])
    return None


def copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)


def stage_inputs(
    template: dict[str, Any], variables: dict[str, Any], paths: dict[str, Path], staging: dict[str, Any]
) -> None:
    """Put each input artifact where the pod expects it: passed by the caller, else declared on the input."""
    passed, repository = staging.get("passed") or {}, staging.get("repository")
    for artifact in (template.get("inputs") or {}).get("artifacts") or []:
        name, path = artifact["name"], artifact.get("path")
        given = passed.get(name) or {}
        target = paths.get(pod_path(path or ""))
        if target is None:
            continue
        if "raw" in given or "raw" in artifact:
            data = (
                given["raw"] if "raw" in given else substitute(str((artifact["raw"] or {}).get("data", "")), variables)
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data, encoding="utf-8")
            continue
        source: Path | None = None
        if "from" in given:
            source = Path(given["from"]) / (given.get("subPath") or "") if given["from"] else None
        elif "key" in given or repository_key(artifact) is not None:
            key = given.get("key") or substitute(repository_key(artifact) or "", variables)
            source = Path(repository) / key.strip("/") if repository else None
        if source is not None and source.exists():
            copy(source, target)
        elif not artifact.get("optional"):
            raise InputError(
                f"input artifact '{name}': nothing passed for it" + (f" (no {source})" if source is not None else "")
            )


def read_outputs(
    template: dict[str, Any],
    paths: dict[str, Path],
    artifacts_dir: Path,
    repository: Path | None = None,
    variables: dict[str, Any] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Output parameters from their files (or valueFrom.default); artifacts copied beside the run (and under
    their repository key). `paths`: each pod path (and its directory) -> where it is on this machine.
    Returns (parameters, artifact name -> local path). Missing ones are errors."""
    outputs = template.get("outputs") or {}
    values: dict[str, str] = {}
    for parameter in parameters(outputs):
        source = parameter.get("valueFrom") or {}
        if "path" not in source:
            if "expression" in source or "parameter" in source or "jsonPath" in source:
                raise InputError(f"output parameter '{parameter['name']}': valueFrom of a container is path only here")
            continue
        local = paths.get(pod_path(source["path"]))
        if local is not None and local.is_file():
            values[parameter["name"]] = local.read_text(encoding="utf-8").strip()
        elif "default" in source:
            values[parameter["name"]] = str(source["default"])
        else:
            raise InputError(f"output parameter '{parameter['name']}': {source['path']} was not written")
    files: dict[str, str] = {}
    for artifact in outputs.get("artifacts") or []:
        local = paths.get(pod_path(artifact.get("path", "")))
        if local is not None and local.exists():
            kept = artifacts_dir / (f"{artifact['name']}{local.suffix}" if local.is_file() else artifact["name"])
            copy(local, kept)
            files[artifact["name"]] = str(kept)
            key = repository_key(artifact)
            if key is not None and repository is not None:
                copy(local, repository / substitute(key, variables or {}).strip("/"))
        elif not artifact.get("optional"):
            raise InputError(f"output artifact '{artifact['name']}': {artifact.get('path')} was not written")
    return values, files
