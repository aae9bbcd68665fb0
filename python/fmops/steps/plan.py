"""Which model each phase of one pipeline run starts from, and where each phase writes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from fmops.core import storage
from fmops.core.errors import InputError

PHASES = ("pretrain", "sft", "dpo")


def plan(*, run_root: str, base_model: str, runs: Mapping[str, bool], results_dir: str | Path = "") -> dict[str, str]:
    """Every URI the pipeline needs, keyed by output parameter name; with `results_dir`, also one file per
    URI there and all of them in plan.json (the step's output parameters).

    `runs` says, for each of PHASES, whether it runs. The pretrained and SFT models get their own evaluation;
    the final model (whatever the last phase that ran produced) is evaluated against the evaluation of the
    phase before it.
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
    if results_dir:
        storage.write_parameters(results_dir, {**outputs, "plan.json": json.dumps(outputs, indent=2) + "\n"})
    return outputs
