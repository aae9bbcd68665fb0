"""Which data shards a continuous-pretraining cycle trains on and replays; the record of each cycle.

    fmops shards list --incoming s3://bucket/data/incoming --watermark s3://bucket/fmops/watermarks/demo \\
        --cycle fmops-continuous-pretrain-1733100000 --fixed-replay s3://bucket/data/replay.jsonl \\
        --results-dir /tmp/fmops/results
    fmops shards commit --watermark s3://bucket/fmops/watermarks/demo --cycle fmops-continuous-pretrain-1733100000 \\
        --promoted true

A shard is new when its content (size and checksum: sha256 locally, the ETag on S3) is in no earlier cycle's
record, so a shard rewritten under the same name is trained on again. `list` writes `new-shards`, `count`,
`replay`, `replay-count` and `replay-ratio` (replay: up to --replay-shards shards of earlier promoted cycles,
drawn with the cycle name as seed, then --fixed-replay) and a pending record; `commit` turns it into the
cycle's record once the gate decided (a failed run leaves the shards new for the next one). Layout:
fmops.steps.shards.
"""

from __future__ import annotations

import argparse

from fmops.core.errors import InputError
from fmops.steps.shards import commit, plan_cycle


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "commit"])
    parser.add_argument("--watermark", required=True, help="URI prefix of the cycles' records")
    parser.add_argument("--cycle", required=True, help="this cycle's name (the workflow's name)")
    parser.add_argument("--incoming", default="", help="list: the prefix new shards land under")
    parser.add_argument("--fixed-replay", default="", help="list: data replayed in every cycle ('' = none)")
    parser.add_argument("--replay-shards", type=int, default=8, help="list: earlier shards replayed, at most")
    parser.add_argument("--replay-ratio", default="", help="list: share of training replayed ('' = the recipe's)")
    parser.add_argument("--results-dir", default="", help="list: local directory for output parameters")
    parser.add_argument("--promoted", choices=["true", "false"], default="", help="commit: the gate's decision")


def run(args: argparse.Namespace) -> int:
    if args.action == "commit":
        if not args.promoted:
            raise InputError("shards commit: --promoted true|false is required")
        record = commit(watermark=args.watermark, cycle=args.cycle, promoted=args.promoted == "true")
        outcome = "promoted" if record["promoted"] else "not promoted: its shards are not replayed"
        print(f"{args.watermark}: cycle {args.cycle} recorded with {len(record['shards'])} shard(s), {outcome}")
        return 0
    if not args.incoming:
        raise InputError("shards list: --incoming is required")
    cycle = plan_cycle(incoming=args.incoming, watermark=args.watermark, cycle=args.cycle,
                       fixed_replay=args.fixed_replay, replay_shards=args.replay_shards,
                       replay_ratio=args.replay_ratio, results_dir=args.results_dir)  # fmt: skip
    print(f"{len(cycle.new)} new shard(s) under {args.incoming}; {len(cycle.replay)} replayed", flush=True)
    for shard in cycle.new:
        print(f"  new     {shard['uri']} ({shard['size']} bytes, {shard['checksum'][:19]})")
    for uri in cycle.replay:
        print(f"  replay  {uri}")
    return 0
