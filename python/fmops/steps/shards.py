"""Which data shards landed since the last continuous-pretraining run; remember them once trained on.

    fmops shards list --incoming s3://bucket/data/incoming/ --watermark s3://bucket/fmops/watermarks/demo.json \
        --results-dir /tmp/fmops/results
    fmops shards commit --watermark s3://bucket/fmops/watermarks/demo.json --shards s3://.../a.jsonl,s3://.../b.jsonl

The watermark is a JSON file in storage listing the shards already trained on. `list` writes the new ones
(comma-separated, the form `fmops pretrain --data` takes) and their count; `commit` adds them to the
watermark after the new model version is published, so a failed run leaves them pending for the next one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fmops.core import storage
from fmops.core.errors import InputError

SHARD_SUFFIXES = (".jsonl", ".txt", ".parquet")


def processed(watermark: str) -> set[str]:
    if not storage.exists(watermark):
        return set()
    try:
        data = json.loads(storage.read_text(watermark))
    except json.JSONDecodeError as error:
        raise InputError(f"{watermark}: watermark is not JSON ({error.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("processed"), list):
        raise InputError(f"{watermark}: field 'processed': missing or not a list")
    return set(data["processed"])


def new_shards(incoming: str, watermark: str) -> list[str]:
    if not storage.isdir(incoming):
        raise InputError(f"{incoming}: incoming data prefix does not exist")
    shards = [storage.join(incoming, name) for name in storage.listdir(incoming) if name.endswith(SHARD_SUFFIXES)]
    seen = processed(watermark)
    return [shard for shard in shards if shard not in seen]


def commit(watermark: str, shards: list[str]) -> int:
    merged = sorted(processed(watermark) | set(shards))
    storage.write_json(watermark, {"processed": merged})
    return len(merged)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "commit"])
    parser.add_argument("--watermark", required=True, help="URI of the watermark JSON file")
    parser.add_argument("--incoming", default="", help="list: the prefix new shards land under")
    parser.add_argument("--shards", default="", help="commit: comma-separated shards now trained on")
    parser.add_argument("--results-dir", default="", help="list: local directory for output parameters")


def run(args: argparse.Namespace) -> int:
    if args.action == "commit":
        shards = [shard for shard in args.shards.split(",") if shard]
        total = commit(args.watermark, shards)
        print(f"{args.watermark}: {len(shards)} shard(s) committed, {total} processed in all")
        return 0
    if not args.incoming:
        raise InputError("shards list: --incoming is required")
    shards = new_shards(args.incoming, args.watermark)
    print(f"{len(shards)} new shard(s) under {args.incoming}", flush=True)
    for shard in shards:
        print(f"  {shard}")
    if args.results_dir:
        results = Path(args.results_dir)
        results.mkdir(parents=True, exist_ok=True)
        (results / "new-shards").write_text(",".join(shards), encoding="utf-8")
        (results / "count").write_text(str(len(shards)), encoding="utf-8")
    return 0
