"""Benchmarks.

    fmops bench serve --url http://localhost:8000/v1 --model demo --concurrency 8 --requests 64
    fmops bench pretrain --model-size 124m
"""

from __future__ import annotations

import argparse
import importlib

# benchmark name -> command module exposing add_arguments(parser) and run(args)
BENCHMARKS = {
    "serve": ("fmops.cli.bench_serve", "load-test an OpenAI-compatible endpoint"),
    "pretrain": ("fmops.cli.bench_pretrain", "pretraining throughput against a tuned Trainer baseline"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for name, (module_name, help_text) in BENCHMARKS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:  # an image without this benchmark's extra lists the others
            if error.name and error.name.startswith("fmops"):
                raise
            continue
        bench = sub.add_parser(name, help=help_text, description=module.__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        module.add_arguments(bench)
        bench.set_defaults(_bench=module)


def run(args: argparse.Namespace) -> int:
    return int(args._bench.run(args) or 0)
