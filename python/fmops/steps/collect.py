"""Check that a stage output is complete and copy its small results where Argo picks them up.

    fmops collect --output s3://bucket/fmops/runs/r1/pretrain --results-dir /tmp/fmops/results

Runs after a training step, whichever way it trained (one pod or a PyTorchJob), so the Argo UI shows the
metrics and plots of every phase the same way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fmops.core import manifest, storage
from fmops.core.errors import InputError

SMALL_RESULTS = ("metrics.json", "loss.png", "report.md", "chart.png")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="a stage output directory (path or URI)")
    parser.add_argument("--results-dir", required=True, help="local directory to copy small results into")


def run(args: argparse.Namespace) -> int:
    if not storage.exists(storage.join(args.output, manifest.MANIFEST)):
        raise InputError(f"{args.output}: incomplete fmops output (no {manifest.MANIFEST})")
    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    for name in SMALL_RESULTS:
        source = storage.join(args.output, name)
        if storage.exists(source):
            (results / name).write_bytes(storage.read_bytes(source))
            print(f"{results / name}  (from {source})")
    return 0
