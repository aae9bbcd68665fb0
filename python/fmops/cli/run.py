"""Run a committed WorkflowTemplate (or any Argo Workflow) on this machine, end to end: the project's main job.

    fmops run                                  # fmops-pipeline: the whole lifecycle, tiny model, demo data
    fmops run fmops-sft -p model=runs/x/storage/runs/x/pretrain -p data=demo/sft.jsonl -p output=out/sft
    fmops run my-workflow.yaml -p message=hi   # a Workflow file, as `argo submit my-workflow.yaml`
    fmops run hello-world-                     # a Workflow with only generateName (also: hello-world)
    fmops run --resume runs/fmops-pipeline-20261127-120000   # rerun only what did not succeed

It reads workflows/*.yaml (the files Argo CD syncs), resolves templateRefs and workflowTemplateRefs across
them, and runs each container, script or containerSet step as a local process in this Python environment,
with Argo's semantics: independent DAG tasks and the steps of a group at once (bounded by `parallelism`,
default the CPUs), loops, when, depends, retries, timeouts, exit handlers, outputs and artifacts. The image
is not pulled, GPU requests are ignored, a PyTorchJob runs under torchrun, the pod's paths move into the
step's directory, and storage-root and data-root move under the run directory. Anything on the selected
path that cannot run faithfully here (a field, a variable) is refused by name before anything runs.

Writes into the run directory: run.json (every node's phase, outputs, result, attempts, log),
steps/<step>/log.txt, storage/ (the stage outputs), artifacts/ and report.md (the phase metrics and
evaluation tables).
Exit status: 0 when the workflow succeeded, 1 when it failed (the failed steps and their logs are named),
2 for bad input.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from fmops.argo.documents import default_dir
from fmops.argo.local.runner import RunOptions, run_workflow
from fmops.core.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("template", nargs="?", default="fmops-pipeline", help="WorkflowTemplate to run")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="workflow parameter (repeatable), as with argo submit -p")  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=None, help="run directory (default ./runs/<run-id>)")
    parser.add_argument("--workflows", type=Path, default=None, help="directory of YAML (default workflows/)")
    parser.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                        help="rerun an earlier run, skipping the steps that succeeded")  # fmt: skip


def assignments(texts: list[str]) -> dict[str, str]:
    """`-p NAME=VALUE` options as a dict."""
    values = {}
    for text in texts:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise InputError(f"-p {text}: expected NAME=VALUE")
        values[name] = value
    return values


def interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a CI timeout, `kill`) stops the run like Ctrl-C: the running step's processes are stopped too."""
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    options = RunOptions(template=args.template, parameters=assignments(args.parameter), workdir=args.workdir,
                         workflows=args.workflows or default_dir(), resume=args.resume)  # fmt: skip
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        return 0 if run_workflow(options).succeeded else 1
    finally:
        signal.signal(signal.SIGTERM, previous)
