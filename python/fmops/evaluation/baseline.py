"""Evaluation results to compare against: a candidate's own output, or a baseline's.

A baseline is given as an `fmops evaluate` output (a directory with metrics.json and manifest.json), or as
a registry version or pointer (`<root>/models/<name>/production`) whose directory holds
`evaluation/metrics.json` (deploy copies the evaluation there). '' means none; a pointer that does not exist
yet (the first run of a pipeline, before anything is in production) also means none, and says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fmops.core import manifest, registry, storage
from fmops.core.errors import InputError


@dataclass(frozen=True)
class Results:
    """Metrics of one evaluation (task -> metric -> {value, stderr, samples}) and where they came from."""

    uri: str
    metrics: dict[str, dict[str, dict[str, Any]]]

    def value(self, key: str) -> float | None:
        """`task/metric` -> value, or None when the evaluation does not have it."""
        task, _, metric = key.partition("/")
        entry = self.metrics.get(task, {}).get(metric)
        return None if entry is None else entry.get("value")

    def keys(self) -> list[str]:
        return [f"{task}/{metric}" for task, metrics in sorted(self.metrics.items()) for metric in sorted(metrics)]


def _read(uri: str) -> dict[str, dict[str, dict[str, Any]]]:
    try:
        data = json.loads(storage.read_text(uri))
    except json.JSONDecodeError as error:
        raise InputError(f"{uri}:{error.lineno}: not valid JSON ({error.msg})") from None
    if not isinstance(data, dict) or not all(isinstance(task, dict) for task in data.values()):
        raise InputError(f"{uri}: expected task -> metric -> value (an fmops evaluate metrics.json)")
    return data


def evaluation(uri: str) -> Results:
    """A complete `fmops evaluate` output (metrics.json and manifest.json, stage evaluate)."""
    if not storage.isdir(uri):
        raise InputError(f"{uri}: evaluation output does not exist")
    names = set(storage.listdir(uri))
    if manifest.METRICS not in names:
        raise InputError(f"{uri}: not an evaluation output (no {manifest.METRICS})")
    if manifest.MANIFEST not in names:
        raise InputError(f"{uri}: incomplete fmops output (no {manifest.MANIFEST}); the evaluation did not finish")
    stage = manifest.read(uri).get("stage")
    if stage != "evaluate":
        raise InputError(f"{uri}: an fmops {stage} output, expected an evaluate output")
    return Results(uri=uri, metrics=_read(storage.join(uri, manifest.METRICS)))


def is_pointer(uri: str) -> bool:
    return uri.rstrip("/").rpartition("/")[2] in registry.POINTERS


def load(uri: str) -> tuple[Results | None, str]:
    """(baseline results or None, a sentence saying which baseline is used, or why there is none)."""
    if not uri:
        return None, "no baseline given"
    if is_pointer(uri) and not storage.exists(uri):
        return None, f"baseline pointer {uri} does not exist yet"
    resolved = registry.resolve(uri)
    nested = storage.join(resolved, "evaluation")
    if storage.exists(storage.join(nested, manifest.METRICS)):
        results = evaluation(nested)
    else:
        results = evaluation(resolved)
    return results, f"baseline {results.uri}"
