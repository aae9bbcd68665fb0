"""`fmops curate`: deduplicate, filter, redact and decontaminate text shards before they are tokenized."""

from __future__ import annotations

import argparse
import sys

from fmops.cli import options
from fmops.cli.command import Command
from fmops.curate import run as curating
from fmops.curate.config import CurateConfig

DESCRIPTION = """Curate text shards on datatrove: exact and MinHash dedup (within the input and against the history of
earlier cycles), Gopher and C4 quality filters, email and public-IP redaction, decontamination against
evaluation task data. The kept documents go to <output>/documents/*.jsonl (`text` and the input's other fields),
which `fmops tokenize` and `fmops pretrain` read.

    fmops curate --data demo-data/pretrain.jsonl --output out/curated --config demo
    fmops curate --data s3://bucket/incoming/ --output s3://bucket/runs/c1/curated \\
        --history s3://bucket/fmops/curate-history/demo --decontaminate s3://bucket/eval/
    fmops curate --output s3://bucket/runs/c1/curated --data s3://bucket/incoming/ \\
        --history s3://bucket/fmops/curate-history/demo --record-history     # after the gate promoted

--data: .jsonl, .txt (documents separated by blank lines) or .parquet, files or directories, commas ok.
Writes documents/, work/ (intermediate files), metrics.json (read, kept, removed by which block) and
manifest.json last. --phase plan|filter|join split a run over Argo pods (fmops-curate).
Manual: python/fmops/curate/README.md
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", nargs="+", required=True, help="files/dirs (.jsonl, .txt, .parquet), commas ok")
    parser.add_argument("--output", required=True, help="output directory or s3:// URI")
    parser.add_argument(
        "--history", default="", help="URI of earlier cycles' signatures to dedup against ('' or missing: none yet)"
    )
    parser.add_argument(
        "--record-history", action="store_true", help="add this run's signatures to --history once it is complete"
    )
    parser.add_argument(
        "--decontaminate",
        nargs="*",
        default=[],
        help="evaluation task data (JSONL files or dirs) to decontaminate against; default the demo tasks'",
    )
    parser.add_argument("--phase", choices=curating.PHASES, default="all", help="one part of a fanned-out run")
    parser.add_argument("--rank", type=int, default=None, help="--phase filter: the shard group this pod runs")
    parser.add_argument("--results-dir", default="", help="also write metrics.json, summary and groups here")
    options.add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    config = options.load_config(CurateConfig, curating.STAGE, args)
    request = curating.Request(
        data=args.data,
        output=args.output,
        config=config,
        history=args.history,
        decontaminate=tuple(args.decontaminate),
        record_history=args.record_history,
        phase=args.phase,
        rank=args.rank,
        results_dir=args.results_dir,
    )
    metrics = curating.curate(request)
    if metrics is not None:
        print(f"fmops curate: wrote {args.output}: {curating.removal_summary(metrics)}")
    elif args.phase in ("all", "join"):
        done = "; history recorded" if args.record_history else ""
        print(f"{args.output}: already complete (manifest.json present){done}", file=sys.stderr)
    return 0


COMMANDS = {"curate": Command(DESCRIPTION, add_arguments, run)}
