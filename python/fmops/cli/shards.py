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

from fmops.core.errors import InputError
from fmops.steps.shards import commit, new_shards


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "commit"])
    parser.add_argument("--watermark", required=True, help="URI of the watermark JSON file")
    parser.add_argument("--incoming", default="", help="list: the prefix new shards land under")
    parser.add_argument("--shards", default="", help="commit: comma-separated shards now trained on")
    parser.add_argument("--results-dir", default="", help="list: local directory for output parameters")


def run(args: argparse.Namespace) -> int:
    if args.action == "commit":
        shards = [shard for shard in args.shards.split(",") if shard]
        total = commit(watermark=args.watermark, shards=shards)
        print(f"{args.watermark}: {len(shards)} shard(s) committed, {total} processed in all")
        return 0
    if not args.incoming:
        raise InputError("shards list: --incoming is required")
    shards = new_shards(incoming=args.incoming, watermark=args.watermark, results_dir=args.results_dir)
    print(f"{len(shards)} new shard(s) under {args.incoming}", flush=True)
    for shard in shards:
        print(f"  {shard}")
    return 0
