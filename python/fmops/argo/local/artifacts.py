"""A pod's artifacts on this machine: input artifacts staged where the pod expects them before it starts
(`raw` data, `from` another step's output, or a repository key under the run's artifact repository), and its
output parameters and artifacts read back from its files after it ends."""

from __future__ import annotations

import posixpath
import shutil
from pathlib import Path
from typing import Any

from fmops.argo.documents import parameters
from fmops.argo.local.expressions import substitute
from fmops.argo.local.paths import inside, readable
from fmops.argo.local.support import REPOSITORIES
from fmops.core.errors import InputError


def pod_path(path: str) -> str:
    """A pod path as a key of the pod's path map: an absolute one with `..` and `.` folded as the pod would
    (`/../../x` is `/x`), a relative one as written."""
    text = str(path or "")
    if text.startswith("/"):
        return posixpath.normpath("/" + text.lstrip("/"))
    return text.rstrip("/") or "/"


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
    passed, repository, run_dir = staging.get("passed") or {}, staging.get("repository"), staging.get("run_dir")
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
            if target.is_symlink():
                target.unlink()  # an earlier attempt's link: the data goes in its place, not where it points
            target.write_text(data, encoding="utf-8")
            continue
        source: Path | None = None
        if "from" in given:
            source = from_source(name, given, run_dir) if given["from"] else None
        elif "key" in given or repository_key(artifact) is not None:
            key = given.get("key") or substitute(repository_key(artifact) or "", variables)
            what = f"input artifact '{name}': key"
            source = inside(Path(repository), key.strip("/"), what=what) if repository else None
        if source is not None and source.exists():
            copy(source, target)
        elif not artifact.get("optional"):
            raise InputError(
                f"input artifact '{name}': nothing passed for it" + (f" (no {source})" if source is not None else "")
            )


def from_source(name: str, given: dict[str, Any], run_dir: Path | None) -> Path:
    """Where an artifact passed `from` another step's output is: it must be inside the run directory."""
    source = Path(given["from"]) / (given.get("subPath") or "")
    if run_dir is None:
        return source
    return inside(run_dir, str(source), what=f"input artifact '{name}': from")


def read_outputs(
    template: dict[str, Any],
    paths: dict[str, Path],
    artifacts_dir: Path,
    repository: Path | None = None,
    variables: dict[str, Any] | None = None,
    run_dir: Path | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Output parameters from their files (or valueFrom.default); artifacts copied beside the run (and under
    their repository key). `paths`: each pod path (and its directory) -> where it is on this machine.
    Returns (parameters, artifact name -> local path). Missing ones are errors, and so is a file or folder
    that is (or holds) a symlink pointing outside `run_dir`: the step may not hand over the host's files."""
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
            checked = readable(local, run_dir, f"output parameter '{parameter['name']}'") if run_dir else local
            values[parameter["name"]] = checked.read_text(encoding="utf-8").strip()
        elif "default" in source:
            values[parameter["name"]] = str(source["default"])
        else:
            raise InputError(f"output parameter '{parameter['name']}': {source['path']} was not written")
    files: dict[str, str] = {}
    for artifact in outputs.get("artifacts") or []:
        name = artifact["name"]
        local = paths.get(pod_path(artifact.get("path", "")))
        if local is not None and local.exists():
            if run_dir is not None:
                readable(local, run_dir, f"output artifact '{name}'")
            kept = inside(artifacts_dir, f"{name}{local.suffix}" if local.is_file() else name, what="artifact name")
            copy(local, kept)
            files[name] = str(kept)
            key = repository_key(artifact)
            if key is not None and repository is not None:
                stored = substitute(key, variables or {}).strip("/")
                copy(local, inside(repository, stored, what=f"output artifact '{name}': key"))
        elif not artifact.get("optional"):
            raise InputError(f"output artifact '{name}': {artifact.get('path')} was not written")
    return values, files
