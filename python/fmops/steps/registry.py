"""The registry steps the templates call beside publish/promote/rollback (those are fmops.core.registry's)."""

from __future__ import annotations

from pathlib import Path

from fmops.core import registry, storage
from fmops.core.errors import InputError
from fmops.models import tiny


def resolve_model(*, root: str, name: str, pointer: str = "latest", fallback: str = "",
                  results_dir: str | Path = "") -> str:  # fmt: skip
    """The version directory `pointer` names, or `fallback` while the registry has none yet.

    With `results_dir`, three step outputs are written there: `model` (that URI); `continue-from`, the
    version's stable-phase model (<version>/stable/, kept by a warmup_stable_decay run) when it has one, else
    `model`; `baseline`, the model to compare a successor with ('' for a model built from scratch).
    """
    current = registry.read_pointer(root, name, pointer)
    if current is None and not fallback:
        raise InputError(f"{registry.model_root(root, name)}: no '{pointer}' pointer and no --fallback")
    model = storage.join(registry.model_root(root, name), str(current["version"])) if current else fallback
    stable = storage.join(model, registry.STABLE)
    if results_dir:
        storage.write_parameters(results_dir, {
            "model": model,
            "continue-from": stable if current and storage.exists(storage.join(stable, "config.json")) else model,
            "baseline": "" if model == tiny.NAME else model,  # built from scratch: nothing to evaluate yet
        })  # fmt: skip
    return model


def pointers(*, root: str, name: str) -> dict[str, dict[str, str | None] | None]:
    """Every pointer of the model (None where unset)."""
    return {pointer: registry.read_pointer(root, name, pointer) for pointer in registry.POINTERS}
