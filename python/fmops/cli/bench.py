"""`fmops bench serve` and `fmops bench pretrain`: serving load and pretraining throughput, as JSON records."""

from __future__ import annotations

import argparse
import os
import sys

from fmops.bench import serve as serving
from fmops.bench import training
from fmops.cli.command import Command

BENCH = """Benchmarks, each written as JSON with its device and date.

    fmops bench serve --url http://127.0.0.1:8000/v1 --model demo --concurrency 8 --requests 64
    fmops bench pretrain --model-size tiny --steps 3 --warmup 1 --output bench.json     # CPU rehearsal
    fmops bench pretrain --model-size 124m,1b --steps 30 --warmup 10 --output benchmarks/pretrain-h100.json

serve: TTFT, inter-token latency, latency and tokens/s from streamed completions, every request under a
deadline; exit 1 if any failed. pretrain: `fmops pretrain`'s training function against transformers' Trainer
tuned as far as its options go, same shape, tokens and device, each in a fresh process.
Manual: benchmarks/README.md
"""


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="base URL including /v1")
    parser.add_argument("--model", default="", help="model id (default: the first in /v1/models)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    parser.add_argument("--requests", type=int, default=64, help="requests in total (default 64)")
    parser.add_argument("--input-len", type=int, default=32, help="prompt length in words (default 32)")
    parser.add_argument("--output-len", type=int, default=16, help="max_tokens per request (default 16)")
    parser.add_argument("--timeout", type=float, default=60.0, help="deadline per request in s (default 60)")
    parser.add_argument(
        "--ignore-eos",
        action="store_true",
        help="exactly --output-len tokens (vLLM's ignore_eos; transformers serve refuses it)",
    )
    parser.add_argument("--api-key", default="EMPTY", help="bearer key (default EMPTY)")
    parser.add_argument("--output", default="", help="write the JSON result here (path or URI)")


def bench_serve(args: argparse.Namespace) -> int:
    test = serving.LoadTest(
        url=args.url,
        model=args.model,
        concurrency=args.concurrency,
        requests=args.requests,
        input_len=args.input_len,
        output_len=args.output_len,
        timeout=args.timeout,
        api_key=args.api_key,
        ignore_eos=args.ignore_eos,
    )
    summary = serving.benchmark(test, args.output)
    print(serving.table(summary))
    if args.output:
        print(f"fmops bench serve: results in {args.output}", file=sys.stderr)
    return 1 if summary["errors"] else 0


def pretrain_arguments(parser: argparse.ArgumentParser) -> None:
    # Numbers are parsed in fmops.bench.training.plan(): a bad value is one line (InputError), not a usage block.
    parser.add_argument("--model-size", default="124m,1b", help="tiny | 124m | 1b, comma-separated (124m,1b)")
    parser.add_argument("--steps", default="30", help="timed optimizer steps per measurement (30)")
    parser.add_argument("--warmup", default="10", help="untimed optimizer steps before them, at least 1 (10)")
    parser.add_argument("--batch", default="", help="sequences per optimizer step (default per size: 4/16/8)")
    parser.add_argument("--seq-len", default="", help="tokens per sequence (default per size: 128/1024/2048)")
    parser.add_argument("--output", default="", help="write the JSON result here (path or URI)")


def bench_pretrain(args: argparse.Namespace) -> int:
    settings = training.plan(
        model_size=args.model_size, steps=args.steps, warmup=args.warmup, batch=args.batch, seq_len=args.seq_len
    )
    threads = os.environ.get("OMP_NUM_THREADS")
    command = " ".join([*([f"OMP_NUM_THREADS={threads}"] if threads else []), "fmops", *sys.argv[1:]])
    result = training.bench(settings, output=args.output, command=command)
    if result is None:
        print("bench pretrain: no size was measured", file=sys.stderr)
        return 1
    print(training.table(result))
    if args.output:
        print(f"wrote {args.output}")
    return 1 if result["failed"] else 0


BENCHMARKS = {
    "serve": ("load-test an OpenAI-compatible endpoint", serve_arguments, bench_serve),
    "pretrain": ("pretraining throughput against a tuned Trainer baseline", pretrain_arguments, bench_pretrain),
}


def bench_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for name, (help_text, add_arguments, run) in BENCHMARKS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
        sub.choices[name].set_defaults(_bench=run)


def bench(args: argparse.Namespace) -> int:
    return int(args._bench(args) or 0)


COMMANDS = {"bench": Command(BENCH, bench_arguments, bench)}
