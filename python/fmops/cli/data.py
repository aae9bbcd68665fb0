"""`fmops demo`: the demo datasets every phase trains and is evaluated on."""

from __future__ import annotations

import argparse

from fmops.cli.command import Command
from fmops.data import demo

DEMO = """Write the demo datasets: one synthetic skill, two-digit addition, checkable exactly.

    fmops demo --output demo-data

pretrain.jsonl, replay.jsonl, sft.jsonl, dpo.jsonl and held-out eval/*.jsonl, the same bytes for the same seed.
Prints each file's URI and what reads it.
"""


def demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="directory or URI (s3://...) to write the demo files into")
    parser.add_argument("--seed", type=int, default=demo.SEED, help="random seed (the shipped files use the default)")


def write_demo(args: argparse.Namespace) -> int:
    for name, uri in demo.write(args.output, seed=args.seed).items():
        print(f"{uri}  {demo.FILES[name]}")
    return 0


COMMANDS = {"demo": Command(DEMO, demo_arguments, write_demo)}
