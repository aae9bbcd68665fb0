"""The model registry: a storage layout every phase shares.

    <root>/models/<name>/<version>/      one complete stage output (it has manifest.json); a pretraining
                                         version also holds stable/, its pre-decay weights
    <root>/models/<name>/latest          pointer file: {"version": ..., "previous": ...}
    <root>/models/<name>/production      pointer file, same form

Continuous pretraining starts from `latest`, the gate compares against `production`, deployment moves
`production` after its smoke test and rolls back by restoring `previous`. Pointers are replaced atomically.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from fmops.core import manifest, storage
from fmops.core.errors import InputError

POINTERS = ("latest", "production")
# Beside a pretrained model: its weights at the end of the warmup_stable_decay plateau, before the decay.
STABLE = "stable"


def model_root(root: str, name: str) -> str:
    return storage.join(root, "models", name)


def read_pointer(root: str, name: str, pointer: str) -> dict[str, str | None] | None:
    return storage.read_json_record(storage.join(model_root(root, name), pointer), "pointer file", "version", str)


def set_pointer(root: str, name: str, pointer: str, version: str) -> dict[str, str | None]:
    """Point `pointer` at `version`, remembering what it pointed at before (for rollback)."""
    if pointer not in POINTERS:
        raise InputError(f"pointer '{pointer}': must be one of {', '.join(POINTERS)}")
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
    version = version or new_version()
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
    root, _, name = base.rpartition("/models/")
    pointer = read_pointer(root, name, last)
    assert pointer is not None
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
