"""Which data shards are new for a continuous-pretraining cycle, which earlier ones it replays, and the record
of what each cycle trained on.

A shard is known by its content, not its name: (URI, size, checksum) from fmops.core.storage.fingerprint, so a
shard rewritten under the same name is new data. The watermark is a prefix of records, each written once:

    <watermark>/pending/<cycle>.json   what `list` chose for the cycle, before it trains
    <watermark>/<cycle>.json           the cycle's record once it ended: {"cycle", "promoted", "shards": [...]}

`list` reads the finished records; `commit` writes its own cycle's record under a new key, in one atomic write.
Nothing is read, modified and written back, so two runs never lose each other's entries (the CronWorkflow also
forbids overlapping runs). A cycle whose candidate was not promoted is recorded too (`promoted: false`): its
shards are not trained on again, and never replayed; delete its record to train on them again.

Replay draws from the shards of earlier promoted cycles: up to `replay_shards` of them, uniformly without
replacement, seeded by the cycle name (a retried cycle draws the same ones), plus an optional fixed replay set.
A shard whose URI holds new content in this cycle is not replayed: its earlier content is gone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmops.core import storage
from fmops.core.errors import InputError

SHARD_SUFFIXES = (".jsonl", ".txt", ".parquet")
PENDING = "pending"
Shard = dict[str, Any]


@dataclass(frozen=True)
class Cycle:
    """What one cycle trains on: its new shards and the shards it replays (URIs, fixed replay set last)."""

    new: list[Shard]
    replay: list[str]


def identity(shard: Shard) -> tuple[str, int, str]:
    return shard["uri"], shard["size"], shard["checksum"]


def incoming_shards(incoming: str) -> list[Shard]:
    """Every data file directly under `incoming`, sorted by name, with its fingerprint."""
    if not storage.isdir(incoming):
        raise InputError(f"{incoming}: incoming data prefix does not exist")
    names = sorted(name for name in storage.listdir(incoming) if name.endswith(SHARD_SUFFIXES))
    return [
        {"uri": storage.join(incoming, name), **storage.fingerprint(storage.join(incoming, name))} for name in names
    ]


def _record(uri: str) -> dict[str, Any]:
    record = storage.read_json_record(uri, "watermark record", "shards", list)
    assert record is not None
    for index, shard in enumerate(record["shards"]):
        if not isinstance(shard, dict) or not {"uri", "size", "checksum"} <= set(shard):
            raise InputError(f"{uri}: field 'shards[{index}]': expected {{uri, size, checksum}}")
    return record


def records(watermark: str) -> list[dict[str, Any]]:
    """The finished cycles' records, in name order (none when the watermark does not exist yet)."""
    if not storage.isdir(watermark):
        return []
    names = sorted(name for name in storage.listdir(watermark) if name.endswith(".json"))
    return [_record(storage.join(watermark, name)) for name in names]


def replay_pool(done: list[dict[str, Any]], new: list[Shard]) -> list[str]:
    """URIs of shards that earlier promoted cycles trained on, minus those rewritten this cycle."""
    rewritten = {shard["uri"] for shard in new}
    pool = {shard["uri"] for record in done if record.get("promoted") for shard in record["shards"]}
    return sorted(pool - rewritten)


def plan_cycle(
    *,
    incoming: str,
    watermark: str,
    cycle: str,
    fixed_replay: str = "",
    replay_shards: int = 8,
    replay_ratio: str = "",
    results_dir: str | Path = "",
) -> Cycle:
    """The cycle's new shards and replay; recorded as pending under the watermark when there are new shards.

    With `results_dir`, also written there as step outputs: `new-shards` and `replay` (comma-separated, the form
    `fmops pretrain --data/--replay` take), `count`, `replay-count`, and `replay-ratio` (`replay_ratio` as given,
    '' meaning the recipe's; 0 when there is nothing to replay: the first cycle without a fixed replay set).
    """
    if not cycle or "/" in cycle:
        raise InputError(f"--cycle '{cycle}': expected a name without '/' (the workflow's name)")
    if replay_shards < 0:
        raise InputError(f"--replay-shards {replay_shards}: must be 0 or more")
    if fixed_replay and not storage.exists(fixed_replay):
        raise InputError(f"{fixed_replay}: fixed replay data does not exist")
    done = records(watermark)
    seen = {identity(shard) for record in done for shard in record["shards"]}
    new = [shard for shard in incoming_shards(incoming) if identity(shard) not in seen]
    pool = replay_pool(done, new)
    drawn = sorted(random.Random(cycle).sample(pool, min(replay_shards, len(pool))))
    plan = Cycle(new=new, replay=drawn + ([fixed_replay] if fixed_replay else []))
    if new:
        storage.write_json(storage.join(watermark, PENDING, f"{cycle}.json"), {"cycle": cycle, "shards": new})
    if results_dir:
        storage.write_parameters(
            results_dir,
            {
                "new-shards": ",".join(shard["uri"] for shard in new),
                "count": str(len(new)),
                "replay": ",".join(plan.replay),
                "replay-count": str(len(plan.replay)),
                "replay-ratio": replay_ratio if plan.replay else "0",
            },
        )
    return plan


def commit(*, watermark: str, cycle: str, promoted: bool) -> dict[str, Any]:
    """Record the cycle as ended (its pending record becomes final); a retried commit returns the record."""
    final, pending = storage.join(watermark, f"{cycle}.json"), storage.join(watermark, PENDING, f"{cycle}.json")
    if not storage.exists(pending):
        if storage.exists(final):
            return _record(final)
        raise InputError(f"{pending}: no pending record for cycle '{cycle}'; `fmops shards list` makes it")
    record = {**_record(pending), "promoted": promoted}
    storage.write_json(final, record)
    storage.remove(pending)
    return record
