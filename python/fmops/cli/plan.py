"""Work out, for one pipeline run, which model each phase starts from and where each writes.

    fmops plan --run-root s3://bucket/fmops/runs/wf-abc --base-model tiny \
        --run-pretrain true --run-sft true --run-dpo false --results-dir /tmp/fmops/results

Any phase can be skipped; the next one then starts from whatever the last phase that runs produced (or
the base model). Doing this in a step keeps the pipeline free of conditional expressions: every task reads
its URIs from this step's output parameters (one file each in --results-dir, plus plan.json).
"""

from __future__ import annotations

import argparse
import json

from fmops.core.errors import InputError
from fmops.steps.plan import PHASES, plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-root", required=True, help="URI under which this run's outputs go")
    parser.add_argument("--base-model", default="", help="model the first phase that runs starts from")
    for phase in PHASES:
        parser.add_argument(f"--run-{phase}", default="true", help=f"true|false: run the {phase} phase")
    parser.add_argument("--results-dir", required=True, help="local directory for the output parameters")


def boolean(value: str, flag: str) -> bool:
    """Argo passes booleans as the words true and false; anything else is refused, not read as false."""
    if value not in ("true", "false"):
        raise InputError(f"--{flag} {value!r}: expected true or false")
    return value == "true"


def run(args: argparse.Namespace) -> int:
    runs = {phase: boolean(getattr(args, f"run_{phase}"), f"run-{phase}") for phase in PHASES}
    outputs = plan(run_root=args.run_root, base_model=args.base_model, runs=runs, results_dir=args.results_dir)
    print(json.dumps(outputs, indent=2))
    return 0
