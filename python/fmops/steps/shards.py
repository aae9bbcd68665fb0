"""Which data shards landed since the last continuous-pretraining run; remember them once trained on.

The watermark is a JSON file in storage, {"processed": [shard URI, ...]}: the shards already trained on.
"""

from __future__ import annotations

from pathlib import Path

from fmops.core import storage
from fmops.core.errors import InputError

SHARD_SUFFIXES = (".jsonl", ".txt", ".parquet")


def processed(watermark: str) -> set[str]:
    """The shards the watermark lists (none when it does not exist yet)."""
    data = storage.read_json_record(watermark, "watermark", "processed", list)
    return set(data["processed"]) if data else set()


def new_shards(*, incoming: str, watermark: str, results_dir: str | Path = "") -> list[str]:
    """The shards under `incoming` the watermark does not list, sorted; with `results_dir`, also written there
    as `new-shards` (comma-separated, the form `fmops pretrain --data` takes) and `count`."""
    if not storage.isdir(incoming):
        raise InputError(f"{incoming}: incoming data prefix does not exist")
    shards = [storage.join(incoming, name) for name in storage.listdir(incoming) if name.endswith(SHARD_SUFFIXES)]
    seen = processed(watermark)
    fresh = [shard for shard in shards if shard not in seen]
    if results_dir:
        storage.write_parameters(results_dir, {"new-shards": ",".join(fresh), "count": str(len(fresh))})
    return fresh


def commit(*, watermark: str, shards: list[str]) -> int:
    """Add `shards` to the watermark (after the model trained on them is published); returns how many it lists."""
    merged = sorted(processed(watermark) | set(shards))
    storage.write_json(watermark, {"processed": merged})
    return len(merged)
