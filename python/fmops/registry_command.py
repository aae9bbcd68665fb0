"""Publish model versions and move the registry's `latest` and `production` pointers.

    fmops registry publish --root s3://bucket/fmops --name demo --source s3://bucket/fmops/runs/r1/dpo
    fmops registry promote --root ROOT --name demo --version v20261127-120000
    fmops registry rollback --root ROOT --name demo
    fmops registry show --root ROOT --name demo
"""

from __future__ import annotations

import argparse
import json

from fmops import registry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["publish", "promote", "rollback", "show"])
    parser.add_argument("--root", required=True, help="registry root URI (models live under ROOT/models/)")
    parser.add_argument("--name", required=True, help="model name")
    parser.add_argument("--source", default="", help="publish: a complete stage output to copy in")
    parser.add_argument("--version", default="", help="publish: version name; promote: version to point at")
    parser.add_argument("--pointer", default="", help="publish: move this pointer too (latest|production)")


def run(args: argparse.Namespace) -> int:
    if args.action == "publish":
        target = registry.publish(args.root, args.name, args.source, args.version or None, args.pointer or None)
        print(target)
    elif args.action == "promote":
        print(json.dumps(registry.set_pointer(args.root, args.name, "production", args.version)))
    elif args.action == "rollback":
        print(json.dumps(registry.rollback(args.root, args.name)))
    else:
        pointers = {p: registry.read_pointer(args.root, args.name, p) for p in registry.POINTERS}
        print(json.dumps(pointers, indent=2))
    return 0
