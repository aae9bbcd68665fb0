"""Write workflows/*.yaml from the Hera definitions in fmops.argo.templates, byte for byte reproducibly.

    fmops render            # rewrite workflows/
    fmops render --check    # exit 1, naming the files, when workflows/ is not what the code renders

Besides one file per WorkflowTemplate/CronWorkflow it writes the ConfigMaps they use (semaphores,
settings) and workflows/kustomization.yaml, whose `replacements` copy the settings (storage-root,
data-root, model-name) into every template's parameters and whose `images` an Argo CD Application can
override, so account-specific values never require editing generated files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fmops.argo.documents import default_dir
from fmops.argo.render import render, stale_files, write


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when workflows/ is stale")
    parser.add_argument("--output", type=Path, default=None, help="directory to write (default: workflows/)")


def run(args: argparse.Namespace) -> int:
    directory = args.output or default_dir()
    files = render()
    if not args.check:
        write(directory, files)
        print(f"wrote {len(files)} files to {directory}")
        return 0
    stale = stale_files(directory, files)
    for name in stale:
        print(f"{directory / name}: not what `fmops render` writes", file=sys.stderr)
    if stale:
        print("run `fmops render` and commit the result", file=sys.stderr)
        return 1
    print(f"{directory}: {len(files)} files up to date")
    return 0
