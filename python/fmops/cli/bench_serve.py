"""Load-test an OpenAI-compatible endpoint with streamed completions (vLLM, transformers serve, fmops serve).

    fmops bench serve --url http://127.0.0.1:8000/v1 --model demo --concurrency 8 --requests 64 \
        --input-len 32 --output-len 16 --output bench.json

Measured from the streamed responses of the official `openai` client: time to first token (TTFT),
inter-token latency (ITL, between streamed chunks), request latency, output tokens/s, the most requests
in flight at once. Every request has a hard deadline (--timeout): a refused, failed or timed-out request
is counted in `errors` (by kind in `error_kinds`), never waited on forever. Exit status 1 if any failed.

Result fields (JSON): requests, completed, errors, error_kinds, concurrency, max_in_flight, duration_s,
requests_per_s, output_tokens, output_tokens_per_s, mean_prompt_tokens, ttft_ms, itl_ms, latency_ms
(each {mean, p50, p95, p99}), url, model, input_len, output_len.
"""

from __future__ import annotations

import argparse
import sys

from fmops.bench.serve import LoadTest, benchmark, table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="base URL including /v1")
    parser.add_argument("--model", default="", help="model id (default: the first in /v1/models)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    parser.add_argument("--requests", type=int, default=64, help="requests in total (default 64)")
    parser.add_argument("--input-len", type=int, default=32, help="prompt length in words (default 32)")
    parser.add_argument("--output-len", type=int, default=16, help="max_tokens per request (default 16)")
    parser.add_argument("--timeout", type=float, default=60.0, help="deadline per request in s (default 60)")
    parser.add_argument("--ignore-eos", action="store_true",
                        help="exactly --output-len tokens (vLLM's ignore_eos; transformers serve refuses it)")
    parser.add_argument("--api-key", default="EMPTY", help="bearer key (default EMPTY)")
    parser.add_argument("--output", default="", help="write the JSON result here (path or URI)")


def run(args: argparse.Namespace) -> int:
    test = LoadTest(url=args.url, model=args.model, concurrency=args.concurrency, requests=args.requests,
                    input_len=args.input_len, output_len=args.output_len, timeout=args.timeout,
                    api_key=args.api_key, ignore_eos=args.ignore_eos)  # fmt: skip
    summary = benchmark(test, args.output)
    print(table(summary))
    if args.output:
        print(f"fmops bench serve: results in {args.output}", file=sys.stderr)
    return 1 if summary["errors"] else 0
