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
from pathlib import Path

from fmops.core import storage
from fmops.core.errors import InputError

PHASES = ("pretrain", "sft", "dpo")


def flag(value: str, name: str) -> bool:
    if value not in ("true", "false"):
        raise InputError(f"--{name} {value!r}: expected true or false")
    return value == "true"


def plan(run_root: str, base_model: str, runs: dict[str, bool]) -> dict[str, str]:
    """Every URI the pipeline needs, keyed by output parameter name.

    The pretrained and SFT models get their own evaluation; the final model (whatever the last phase that
    ran produced) is evaluated against the evaluation of the phase before it.
    """
    if not any(runs.values()):
        raise InputError("plan: every training phase is skipped; nothing to evaluate or deploy")
    if not base_model and not runs["pretrain"]:
        raise InputError("--base-model: required when pretraining is skipped")
    outputs: dict[str, str] = {}
    model, ran = base_model, []  # ran: (phase, its evaluation output) in order
    for phase in PHASES:
        outputs[f"{phase}-model"] = model
        outputs[f"{phase}-output"] = storage.join(run_root, phase)
        outputs[f"{phase}-eval-output"] = storage.join(run_root, f"eval-{phase}")
        outputs[f"{phase}-eval-baseline"] = ran[-1][1] if ran else ""
        if runs[phase]:
            model = outputs[f"{phase}-output"]
            ran.append((phase, outputs[f"{phase}-eval-output"]))
    outputs["final-model"] = model
    outputs["final-eval-output"] = storage.join(run_root, "eval-final")
    outputs["final-eval-baseline"] = ran[-2][1] if len(ran) > 1 else ""
    return outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-root", required=True, help="URI under which this run's outputs go")
    parser.add_argument("--base-model", default="", help="model the first phase that runs starts from")
    for phase in PHASES:
        parser.add_argument(f"--run-{phase}", default="true", help=f"true|false: run the {phase} phase")
    parser.add_argument("--results-dir", required=True, help="local directory for the output parameters")


def run(args: argparse.Namespace) -> int:
    runs = {phase: flag(getattr(args, f"run_{phase}"), f"run-{phase}") for phase in PHASES}
    outputs = plan(args.run_root, args.base_model, runs)
    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    for name, value in outputs.items():
        (results / name).write_text(value, encoding="utf-8")
    (results / "plan.json").write_text(json.dumps(outputs, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(outputs, indent=2))
    return 0
