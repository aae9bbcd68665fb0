"""The history of earlier cycles: the MinHash signatures of everything curated and then trained on, which a new
cycle's documents are deduplicated against. Layout (datatrove's index format, one file per cycle and band):

    <history>/bucket_NNN/<cycle>.minhash.index   sorted band signatures, streamed during dedup (never loaded whole)
    <history>/minhash.json                       the MinHash settings the signatures were made with
    <history>/cycles/<cycle>.json                which curate output each cycle's signatures came from

A history that does not exist yet is empty (the first cycle). Signatures made with other MinHash settings
never match, so a history written with other settings is refused rather than silently ignored.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fmops.core import storage
from fmops.core.errors import InputError
from fmops.curate.config import CurateConfig

SETTINGS = "minhash.json"
CYCLES = "cycles"


def minhash_settings(config: CurateConfig) -> dict[str, int | bool]:
    return {
        "n_grams": config.minhash_ngrams,
        "num_buckets": config.minhash_buckets,
        "hashes_per_bucket": config.minhash_hashes_per_bucket,
        "seed": config.minhash_seed,
        "normalize_numbers": config.minhash_normalize_numbers,
    }


def cycles(history: str) -> list[str]:
    """The names of the cycles recorded in the history (none when it does not exist)."""
    folder = storage.join(history, CYCLES)
    return [name.removesuffix(".json") for name in storage.listdir(folder) if name.endswith(".json")]


def check(history: str, config: CurateConfig) -> bool:
    """Whether `history` holds signatures to deduplicate against; refuses one made with other settings."""
    if not history or not storage.exists(history):
        return False
    if not storage.isdir(history):
        raise InputError(f"{history}: history is a file, expected a directory (or a path that does not exist yet)")
    recorded = storage.read_json_record(storage.join(history, SETTINGS), "history settings", "n_grams", int)
    if recorded is None:
        if storage.listdir(history):
            raise InputError(f"{history}: not a curate history (no {SETTINGS})")
        return False
    expected = minhash_settings(config)
    different = sorted(key for key, value in expected.items() if recorded.get(key) != value)
    if different:
        key = different[0]
        raise InputError(
            f"{storage.join(history, SETTINGS)}: field '{key}': history made with {recorded.get(key)}, "
            f"this run uses {expected[key]} (signatures would never match; use a new history)"
        )
    return bool(cycles(history))


def cycle_name(output: str) -> str:
    """The history's name for the run that wrote `output`: the same output always gets the same name, so
    recording it again replaces its files instead of adding copies."""
    return hashlib.sha256(output.rstrip("/").encode()).hexdigest()[:16]


def record(history: str, output: str, config: CurateConfig, signatures: str, workers: int) -> dict[str, Any]:
    """Add the signatures of the curate run at `output` to the history, one index file per band."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import MinhashBuildIndex

    from fmops.curate.pipeline import minhash_config

    name = cycle_name(output)
    executor = LocalPipelineExecutor(
        [MinhashBuildIndex(signatures, history, index_name=name, config=minhash_config(config))],
        tasks=config.minhash_buckets,
        workers=workers,
        logging_dir=storage.join(output, "work", "logs", f"history-{name}"),
        skip_completed=False,
    )
    executor.run()
    storage.write_json(storage.join(history, SETTINGS), minhash_settings(config))
    entry = {"cycle": name, "output": output}
    storage.write_json(storage.join(history, CYCLES, f"{name}.json"), entry)
    return entry
