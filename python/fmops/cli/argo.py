"""`fmops run`, `fmops render`, `fmops validate`: the WorkflowTemplates, run here, written, checked."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from fmops.argo import render as rendering
from fmops.argo import validate as validation
from fmops.argo.documents import default_dir
from fmops.argo.local.runner import RunOptions, run_workflow
from fmops.cli.command import Command
from fmops.core.errors import InputError
from fmops.serving import demo_objects

RUN = """Run a committed WorkflowTemplate (or any Argo Workflow) on this machine, end to end.

    fmops run                                  # fmops-pipeline: the whole lifecycle, tiny model, demo data
    fmops run fmops-sft -p model=runs/x/storage/runs/x/pretrain -p data=demo/sft.jsonl -p output=out/sft
    fmops run my-workflow.yaml -p message=hi   # a Workflow file, as `argo submit my-workflow.yaml`
    fmops run --resume runs/fmops-pipeline-20261127-120000   # rerun only what did not succeed

Each step runs as a local process with Argo's semantics; what cannot run faithfully here is refused by name
before anything runs. Writes run.json, steps/<step>/log.txt, storage/, artifacts/ and report.md into the run
directory. Exit 0 when the workflow succeeded, 1 when it failed, 2 for bad input.
Manual: workflows/README.md
"""

RENDER = """Write workflows/*.yaml from the Hera definitions in fmops.argo.templates, byte for byte reproducibly.

    fmops render            # rewrite workflows/
    fmops render --check    # exit 1, naming the files, when workflows/ is not what the code renders

Manual: workflows/README.md
"""

VALIDATE = """Check rendered (or hand-written) Argo manifests: strict structure, contracts across files, policy.

    fmops validate                  # workflows/
    fmops validate path/to/dir other.yaml

Each problem is one line on stderr, `file: Kind/name: yaml.path: message`; exit 1 when there is any.
Manual: workflows/README.md
"""


def run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("template", nargs="?", default="fmops-pipeline", help="WorkflowTemplate to run")
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="workflow parameter (repeatable), as with argo submit -p",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="run directory (default ./runs/<run-id>)")
    parser.add_argument("--workflows", type=Path, default=None, help="directory of YAML (default workflows/)")
    parser.add_argument(
        "--resume", type=Path, default=None, metavar="RUN_DIR", help="rerun an earlier run, skipping what succeeded"
    )


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
    options = RunOptions(
        template=args.template,
        parameters=assignments(args.parameter),
        workdir=args.workdir,
        workflows=args.workflows or default_dir(),
        resume=args.resume,
    )
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        return 0 if run_workflow(options).succeeded else 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def render_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when workflows/ is stale")
    parser.add_argument("--output", type=Path, default=None, help="directory to write (default: workflows/)")


def render(args: argparse.Namespace) -> int:
    directory = args.output or default_dir()
    files = rendering.render()
    root = None if args.output else directory.parent  # argocd/ beside the default workflows/ only
    cluster_files = {**rendering.cluster_files(), **demo_objects.serving_demo_files()}
    if not args.check:
        rendering.write(directory, files)
        if root is not None:
            rendering.write_cluster_files(root, cluster_files)
        print(f"wrote {len(files)} files to {directory}")
        return 0
    stale = [str(directory / name) for name in rendering.stale_files(directory, files)]
    if root is not None:
        stale += [str(root / name) for name in rendering.stale_cluster_files(root, cluster_files)]
    for name in stale:
        print(f"{name}: not what `fmops render` writes", file=sys.stderr)
    if stale:
        print("run `fmops render` and commit the result", file=sys.stderr)
        return 1
    print(f"{directory}: {len(files)} files up to date")
    return 0


def validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, help="files or directories (default: workflows/)")


def validate(args: argparse.Namespace) -> int:
    paths = args.paths or [default_dir()]
    problems = validation.validate(paths)
    for line in problems:
        print(line, file=sys.stderr)
    print(f"{len(validation.load(paths)[0])} documents checked, {len(problems)} problem(s)")
    return 1 if problems else 0


COMMANDS = {
    "run": Command(RUN, run_arguments, run),
    "render": Command(RENDER, render_arguments, render),
    "validate": Command(VALIDATE, validate_arguments, validate),
}
