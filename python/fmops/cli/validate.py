"""Check rendered (or hand-written) Argo manifests: strict structure, contracts across files, policy.

    fmops validate                  # workflows/
    fmops validate path/to/dir other.yaml

Each problem is one line on stderr, `file: Kind/name: yaml.path: message`; exit 1 when there is any.
- structure: a lossless round trip through Hera's generated Argo models: a misspelled or unknown field is
  an error, not silently dropped;
- contracts: the entrypoint exists; every templateRef names a template that exists; every argument passed
  is an input the target declares and every required input is passed; every {{inputs.parameters.X}},
  {{workflow.parameters.X}} and {{tasks.T.outputs.parameters.Y}} reference resolves;
- policy: images pinned (a tag other than latest, or a digest); steps labelled fmops.io/step-kind gpu or
  training carry the nvidia.com/gpu toleration, a nodeSelector and a memory-backed /dev/shm, and a step that
  requests GPUs must be so labelled; every step has a deadline; training steps have retries.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fmops.argo.documents import default_dir
from fmops.argo.validate import load, validate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, help="files or directories (default: workflows/)")


def run(args: argparse.Namespace) -> int:
    paths = args.paths or [default_dir()]
    problems = validate(paths)
    for line in problems:
        print(line, file=sys.stderr)
    print(f"{len(load(paths)[0])} documents checked, {len(problems)} problem(s)")
    return 1 if problems else 0
