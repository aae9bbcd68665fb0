"""Publish model versions and move the registry's `latest` and `production` pointers.

fmops registry publish --root s3://bucket/fmops --name demo --source s3://bucket/fmops/runs/r1/dpo
fmops registry promote --root ROOT --name demo --version v20261127-120000
fmops registry rollback --root ROOT --name demo
fmops registry show --root ROOT --name demo
fmops registry resolve --root ROOT --name demo --pointer latest --fallback tiny --results-dir /tmp/fmops/results
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fmops.core import registry, storage
from fmops.core.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["publish", "promote", "rollback", "show", "resolve"])
    parser.add_argument("--root", required=True, help="registry root URI (models live under ROOT/models/)")
    parser.add_argument("--name", required=True, help="model name")
    parser.add_argument("--source", default="", help="publish: a complete stage output to copy in")
    parser.add_argument("--version", default="", help="publish: version name; promote: version to point at")
    parser.add_argument("--pointer", default="", help="publish: move this pointer too; resolve: read it")
    parser.add_argument("--evaluation", default="", help="publish: evaluation output kept with the version")
    parser.add_argument("--fallback", default="", help="resolve: the model to use when the pointer is unset")
    parser.add_argument("--results-dir", default="", help="resolve: write the model URI to RESULTS_DIR/model")


def resolve(args: argparse.Namespace) -> str:
    """The version directory a pointer names, or the fallback when the registry has none yet."""
    pointer = registry.read_pointer(args.root, args.name, args.pointer or "latest")
    if pointer is None:
        if not args.fallback:
            where = registry.model_root(args.root, args.name)
            raise InputError(f"{where}: no '{args.pointer}' pointer and no --fallback")
        return args.fallback
    return storage.join(registry.model_root(args.root, args.name), str(pointer["version"]))


def run(args: argparse.Namespace) -> int:
    if args.action == "resolve":
        model = resolve(args)
        if args.results_dir:
            Path(args.results_dir).mkdir(parents=True, exist_ok=True)
            (Path(args.results_dir) / "model").write_text(model, encoding="utf-8")
        print(model)
    elif args.action == "publish":
        if not args.source:
            raise InputError("registry publish: --source is required")
        target = registry.publish(
            args.root, args.name, args.source, args.version or None, args.pointer or None, args.evaluation or None
        )
        print(target)
    elif args.action == "promote":
        print(json.dumps(registry.set_pointer(args.root, args.name, "production", args.version)))
    elif args.action == "rollback":
        print(json.dumps(registry.rollback(args.root, args.name)))
    else:
        pointers = {p: registry.read_pointer(args.root, args.name, p) for p in registry.POINTERS}
        print(json.dumps(pointers, indent=2))
    return 0
