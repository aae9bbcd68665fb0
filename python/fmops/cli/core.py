"""`fmops registry`: the model registry's versions and its `latest` and `production` pointers."""

from __future__ import annotations

import argparse
import json

from fmops.cli.command import Command
from fmops.core import registry
from fmops.core.errors import InputError
from fmops.models import tiny

REGISTRY = """Publish model versions and move the registry's `latest` and `production` pointers.

    fmops registry publish --root s3://bucket/fmops --name demo --source s3://bucket/fmops/runs/r1/dpo
    fmops registry promote --root ROOT --name demo --version v20261127-120000
    fmops registry rollback --root ROOT --name demo
    fmops registry show --root ROOT --name demo
    fmops registry resolve --root ROOT --name demo --pointer latest --fallback tiny --results-dir /tmp/fmops/results

publish prints the new version's URI, promote and rollback the pointer as JSON, show every pointer, resolve
the model URI a pointer names (or the fallback). Layout: fmops.core.registry.
"""

# Optional flags, each a string that is empty when not given; which actions read them says the help.
FLAGS = {
    "--source": "publish: a complete stage output to copy in",
    "--version": "publish: version name; promote: version to point at",
    "--pointer": "publish: move this pointer too; resolve: read it",
    "--evaluation": "publish: evaluation output kept with the version",
    "--fallback": "resolve: the model to use when the pointer is unset",
    "--results-dir": "resolve: write the model URI to RESULTS_DIR/model",
}


def registry_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["publish", "promote", "rollback", "show", "resolve"])
    parser.add_argument("--root", required=True, help="registry root URI (models live under ROOT/models/)")
    parser.add_argument("--name", required=True, help="model name")
    for flag, help_text in FLAGS.items():
        parser.add_argument(flag, default="", help=help_text)


def registry_action(args: argparse.Namespace) -> int:
    if args.action == "resolve":
        model = registry.resolve_for_pipeline(
            root=args.root,
            name=args.name,
            pointer=args.pointer or "latest",
            fallback=args.fallback,
            scratch=tiny.NAME,
            results_dir=args.results_dir,
        )
        print(model)
    elif args.action == "publish":
        if not args.source:
            raise InputError("registry publish: --source is required")
        evaluation = args.evaluation or None
        print(
            registry.publish(args.root, args.name, args.source, args.version or None, args.pointer or None, evaluation)
        )
    elif args.action == "promote":
        if not args.version:
            raise InputError("registry promote: --version is required")
        print(json.dumps(registry.set_pointer(args.root, args.name, "production", args.version)))
    elif args.action == "rollback":
        print(json.dumps(registry.rollback(args.root, args.name)))
    else:
        print(json.dumps(registry.pointers(args.root, args.name), indent=2))
    return 0


COMMANDS = {"registry": Command(REGISTRY, registry_arguments, registry_action)}
