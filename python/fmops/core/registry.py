"""The model registry: a storage layout every phase shares.

    <root>/models/<name>/<version>/      one complete stage output (it has manifest.json); a pretraining
                                         version also holds stable/, its pre-decay weights
    <root>/models/<name>/latest          pointer file: {"version": ..., "previous": ...}
    <root>/models/<name>/production      pointer file, same form

Continuous pretraining starts from `latest`, the gate compares against `production`, deployment moves
`production` after its smoke test and rolls back by restoring `previous`. Pointers are replaced atomically.

Model names and versions are single path segments (NAME_PATTERN), checked wherever one is given or read back
from a pointer file: a pointer is data anyone with write access to the bucket can edit, and its version becomes
a path, a workflow parameter and part of a Kubernetes manifest, so `../x` or a quote is refused before use.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from fmops.core import manifest, storage
from fmops.core.errors import InputError, where

POINTERS = ("latest", "production")
# Beside a pretrained model: its weights at the end of the warmup_stable_decay plateau, before the decay.
STABLE = "stable"
# One path segment: starts with a letter or digit (so never `.` or `..`), then letters, digits, `.`, `_`, `-`.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
NAME_RULE = "a letter or digit, then up to 127 letters, digits, '.', '_' or '-'"


def _shown(value: object) -> str:
    """The refused value on one line (JSON escapes newlines and quotes), cut short."""
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_name(value: object, what: str) -> str:
    """`value` when it is a valid model name or version (`what` says which, and where it came from)."""
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise InputError(f"{what} {_shown(value)}: not a registry name ({NAME_RULE})")
    return value


def model_root(root: str, name: str) -> str:
    return storage.join(root, "models", check_name(name, "model name"))


def read_pointer(root: str, name: str, pointer: str) -> dict[str, str | None] | None:
    """The pointer file's record, None when there is none; a version it names that is not a valid name is
    refused before anything is read from it."""
    if pointer not in POINTERS:
        raise InputError(f"pointer '{pointer}': must be one of {', '.join(POINTERS)}")
    return _read_pointer_file(storage.join(model_root(root, name), pointer))


def _read_pointer_file(uri: str) -> dict[str, str | None] | None:
    record = storage.read_json_record(uri, "pointer file", "version", str)
    if record is None:
        return None
    check_name(record["version"], f"{where(uri, field='version')}:")
    if record.get("previous") is not None:
        check_name(record["previous"], f"{where(uri, field='previous')}:")
    return record


def set_pointer(root: str, name: str, pointer: str, version: str) -> dict[str, str | None]:
    """Point `pointer` at `version`, remembering what it pointed at before (for rollback)."""
    if pointer not in POINTERS:
        raise InputError(f"pointer '{pointer}': must be one of {', '.join(POINTERS)}")
    check_name(version, "version")
    if not storage.exists(storage.join(model_root(root, name), version, manifest.MANIFEST)):
        raise InputError(f"{storage.join(model_root(root, name), version)}: no complete model version there")
    current = read_pointer(root, name, pointer)
    if current and current["version"] == version:
        return current
    data = {"version": version, "previous": current["version"] if current else None}
    storage.atomic_write_text(storage.join(model_root(root, name), pointer), json.dumps(data) + "\n")
    return data


def rollback(root: str, name: str, pointer: str = "production") -> dict[str, str | None]:
    current = read_pointer(root, name, pointer)
    if not current or not current.get("previous"):
        raise InputError(f"{storage.join(model_root(root, name), pointer)}: no previous version to roll back to")
    data = {"version": current["previous"], "previous": current["version"]}
    storage.atomic_write_text(storage.join(model_root(root, name), pointer), json.dumps(data) + "\n")
    return data


def new_version() -> str:
    return datetime.now(UTC).strftime("v%Y%m%d-%H%M%S")


def publish(
    root: str,
    name: str,
    source: str,
    version: str | None = None,
    pointer: str | None = "latest",
    evaluation: str | None = None,
) -> str:
    """Copy a complete stage output into the registry as a new version; optionally move a pointer to it.

    `evaluation`, an evaluation output, is kept as <version>/evaluation/ so later gates can compare with it.
    """
    if not storage.exists(storage.join(source, manifest.MANIFEST)):
        raise InputError(f"{source}: incomplete fmops output (no {manifest.MANIFEST}); refusing to publish")
    version = check_name(version or new_version(), "version")
    target = storage.join(model_root(root, name), version)
    if storage.exists(storage.join(target, manifest.MANIFEST)):
        raise InputError(f"{target}: version already exists")
    if evaluation and not storage.exists(storage.join(evaluation, manifest.MANIFEST)):
        raise InputError(f"{evaluation}: incomplete evaluation output (no {manifest.MANIFEST})")
    with storage.local_copy(source) as local:
        storage.upload_dir(local, target)
    if evaluation:
        with storage.local_copy(evaluation) as local:
            storage.upload_dir(local, storage.join(target, "evaluation"))
    if pointer:
        set_pointer(root, name, pointer, version)
    return target


def resolve(uri: str) -> str:
    """Turn `<root>/models/<name>/latest|production` into the version directory it points at."""
    base, _, last = uri.rstrip("/").rpartition("/")
    if last not in POINTERS or not base or not storage.exists(uri) or storage.isdir(uri):
        return uri
    check_name(base.rpartition("/")[2], f"{uri}: model name")
    pointer = _read_pointer_file(uri)
    assert pointer is not None  # it exists: checked above
    return storage.join(base, str(pointer["version"]))


def resolve_for_pipeline(
    *,
    root: str,
    name: str,
    pointer: str = "latest",
    fallback: str = "",
    scratch: str = "",
    results_dir: str | Path = "",
) -> str:
    """The version directory `pointer` names, or `fallback` while the registry has none yet.

    With `results_dir`, three step outputs are written there: `model` (that URI); `continue-from`, the
    version's stable-phase model (<version>/stable/, kept by a warmup_stable_decay run) when it has one, else
    `model`; `baseline`, the model to compare a successor with ('' when `model` is `scratch`, a model built
    from scratch: there is nothing to evaluate yet).
    """
    current = read_pointer(root, name, pointer)
    if current is None and not fallback:
        raise InputError(f"{model_root(root, name)}: no '{pointer}' pointer and no --fallback")
    model = storage.join(model_root(root, name), str(current["version"])) if current else fallback
    stable = storage.join(model, STABLE)
    if results_dir:
        has_stable = current is not None and storage.exists(storage.join(stable, "config.json"))
        storage.write_parameters(
            results_dir,
            {
                "model": model,
                "continue-from": stable if has_stable else model,
                "baseline": "" if model == scratch else model,
            },
        )
    return model


def pointers(root: str, name: str) -> dict[str, dict[str, str | None] | None]:
    """Every pointer of the model (None where unset)."""
    return {pointer: read_pointer(root, name, pointer) for pointer in POINTERS}
