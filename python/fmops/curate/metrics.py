"""metrics.json of a curate run, summed from the per-task stats datatrove writes under work/logs/: documents
read and kept, and how many each block removed (by name), redacted, and the throughput."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from fmops.core import storage
from fmops.curate.config import CurateConfig

# a step's name (as datatrove records it) -> the name its removals are counted under
FILTERS = {"Gopher Repetition": "gopher_repetition", "Gopher Quality": "gopher_quality", "C4 Quality": "c4_quality"}
DUPLICATES = ("exact_duplicate", "near_duplicate", "history_duplicate")


def step_counts(logs: str) -> dict[str, Counter]:
    """step name -> its integer stats summed over every task of one executor."""
    folder = storage.join(logs, "stats")
    totals: dict[str, Counter] = {}
    for name in storage.listdir(folder):
        for step in json.loads(storage.read_text(storage.join(folder, name))):
            counts = {key: value for key, value in step["stats"].items() if isinstance(value, int | float)}
            totals.setdefault(step["name"], Counter()).update(counts)
    return totals


def find(steps: dict[str, Counter], fragment: str) -> Counter:
    return next((counts for name, counts in steps.items() if fragment in name), Counter())


def collect(work: Any, files: list[str], config: CurateConfig, history_cycles: list[str]) -> dict[str, Any]:
    filtered, kept = step_counts(work.logs("filter")), step_counts(work.logs("keep"))
    removed = {label: int(find(filtered, fragment)["dropped"]) for fragment, label in FILTERS.items()}
    removed["contaminated"] = int(find(filtered, "decontamination")["dropped"])
    removal = find(kept, "duplicate removal")
    removed |= {label: int(removal[f"dropped_{label}"]) for label in DUPLICATES}
    reader = find(filtered, "shard reader")
    filter_seconds = sum(find_time(work.logs("filter")))
    return {
        "files": len(files),
        "documents_read": int(reader["documents"]),
        "documents_kept": int(removal["kept"]),
        "documents_redacted": int(find(filtered, "PII")["redacted"]),
        "documents_empty": int(reader["empty"]),
        "removed": removed,
        "history_cycles": len(history_cycles),
        "blocks": enabled_blocks(config),
        "filter_cpu_seconds": round(filter_seconds, 3),
    }


def find_time(logs: str) -> list[float]:
    """CPU seconds each task of the executor spent in its steps."""
    folder = storage.join(logs, "stats")
    seconds = []
    for name in storage.listdir(folder):
        steps = json.loads(storage.read_text(storage.join(folder, name)))
        seconds.append(sum(s["time_stats"]["total"] for s in steps if isinstance(s["time_stats"], dict)))
    return seconds


def enabled_blocks(config: CurateConfig) -> list[str]:
    names = ("exact_dedup", "near_dedup", "gopher_repetition", "gopher_quality", "c4_quality", "pii", "decontaminate")
    return [name for name in names if getattr(config, name)]
