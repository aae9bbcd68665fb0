"""Write the demo datasets: one synthetic skill, two-digit addition, checkable exactly.

    fmops demo --output demo-data

Every phase has its file, all generated deterministically from a seed (the same bytes every time):
pretrain.jsonl (raw "a+b=c" text, with the one-digit table), replay.jsonl (an "earlier corpus": counting),
sft.jsonl (chat: the assistant answers "a+b=c"), dpo.jsonl (chosen = the right equation, rejected = a near miss
off by one digit), and held-out sets under eval/ whose problems never appear in any training file.
Prints each file's URI and what reads it.
"""

from __future__ import annotations

import argparse

from fmops.data import demo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="directory or URI (s3://...) to write the demo files into")
    parser.add_argument("--seed", type=int, default=demo.SEED, help="random seed (the shipped files use the default)")


def run(args: argparse.Namespace) -> int:
    for name, uri in demo.write(args.output, seed=args.seed).items():
        print(f"{uri}  {demo.FILES[name]}")
    return 0
