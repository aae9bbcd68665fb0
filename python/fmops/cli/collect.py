"""Check that a stage output is complete and copy its small results where Argo picks them up.

    fmops collect --output s3://bucket/fmops/runs/r1/pretrain --results-dir /tmp/fmops/results

Runs after a training step, whichever way it trained (one pod or a PyTorchJob), so the Argo UI shows the
metrics and plots of every phase the same way. Copies metrics.json, loss.png, report.md and chart.png,
those the output has; an output without manifest.json is refused (exit 2).
"""

from __future__ import annotations

import argparse

from fmops.steps.collect import collect


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="a stage output directory (path or URI)")
    parser.add_argument("--results-dir", required=True, help="local directory to copy small results into")


def run(args: argparse.Namespace) -> int:
    for copy, source in collect(output=args.output, results_dir=args.results_dir).items():
        print(f"{copy}  (from {source})")
    return 0
