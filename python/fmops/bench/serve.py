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
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, field

from fmops.core import storage
from fmops.core.errors import InputError

PERCENTILES = (50, 95, 99)


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


@dataclass
class Sample:
    """One request's timings, or its error kind."""

    ttft_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    latency_s: float | None = None
    output_tokens: int = 0
    prompt_tokens: int | None = None
    error: str | None = None


def make_prompt(words: int) -> str:
    """About `words` tokens of text: single digits and plus signs, which every tokenizer knows."""
    parts = [f"{i % 10}+{(i * 7) % 10}" for i in range(max(1, words // 3))]
    return " ".join(parts) + " ="


async def one_request(client, model: str, prompt: str, output_len: int, ignore_eos: bool) -> Sample:
    """A streamed completion. TTFT: the first chunk with a choice (text, or the final chunk when a server
    holds text back); ITL: between consecutive chunks with text."""
    sample, started, last = Sample(), time.perf_counter(), None
    stream = await client.completions.create(
        model=model, prompt=prompt, max_tokens=output_len, temperature=0.0, stream=True,
        stream_options={"include_usage": True}, extra_body={"ignore_eos": True} if ignore_eos else None,
    )  # fmt: skip
    chunks = 0
    async for chunk in stream:
        now = time.perf_counter()
        if chunk.choices and sample.ttft_s is None:
            sample.ttft_s = now - started
        if chunk.choices and chunk.choices[0].text:
            chunks += 1
            if last is not None:
                sample.itl_s.append(now - last)
            last = now
        if chunk.usage:
            sample.output_tokens = chunk.usage.completion_tokens
            sample.prompt_tokens = chunk.usage.prompt_tokens
    sample.latency_s = time.perf_counter() - started
    sample.output_tokens = sample.output_tokens or chunks
    return sample


def error_kind(error: BaseException) -> str:
    """A short name for why a request failed: the openai exception class, or `timeout`."""
    from openai import APITimeoutError

    if isinstance(error, TimeoutError | asyncio.TimeoutError | APITimeoutError):
        return "timeout"
    status = getattr(error, "status_code", None)
    return f"{type(error).__name__}" + (f" {status}" if status else "")


async def load(url: str, model: str, *, concurrency: int, requests: int, input_len: int, output_len: int,
               timeout: float, api_key: str = "EMPTY", ignore_eos: bool = False) -> dict:
    """Run the load test; returns the summary (see the module docstring)."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key=api_key or "EMPTY", timeout=timeout, max_retries=0)
    prompt, gate = make_prompt(input_len), asyncio.Semaphore(concurrency)
    in_flight, peak = 0, 0

    async def guarded() -> Sample:
        nonlocal in_flight, peak
        async with gate:
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                request = one_request(client, model, prompt, output_len, ignore_eos)
                return await asyncio.wait_for(request, timeout)
            except Exception as error:  # every failure is data here: counted by kind, never raised
                return Sample(error=error_kind(error))
            finally:
                in_flight -= 1

    async with client:
        if not model:
            model = await first_model(client, timeout)
        started = time.perf_counter()
        samples = await asyncio.gather(*(guarded() for _ in range(requests)))
        duration = time.perf_counter() - started
    summary = summarize(samples, duration)
    summary.update(url=url, model=model, concurrency=concurrency, max_in_flight=peak,
                   input_len=input_len, output_len=output_len, ignore_eos=ignore_eos)  # fmt: skip
    return summary


async def first_model(client, timeout: float) -> str:
    try:
        listed = await asyncio.wait_for(client.models.list(), timeout)
    except Exception as error:
        raise InputError(f"{client.base_url}models: cannot list models ({error_kind(error)})") from None
    if not listed.data:
        raise InputError(f"{client.base_url}models: the server lists no model")
    return listed.data[0].id


def distribution(values: list[float], scale: float = 1000.0) -> dict[str, float | None]:
    """mean and p50/p95/p99 (in ms by default); None when there is nothing to measure."""
    if not values:
        return {"mean": None, **{f"p{p}": None for p in PERCENTILES}}
    scaled = [v * scale for v in values]
    cuts = statistics.quantiles(scaled, n=100, method="inclusive") if len(scaled) > 1 else scaled * 99
    percentiles = {f"p{p}": round(cuts[p - 1], 3) for p in PERCENTILES}
    return {"mean": round(statistics.fmean(scaled), 3), **percentiles}


def summarize(samples: list[Sample], duration: float) -> dict:
    done = [s for s in samples if s.error is None]
    kinds: dict[str, int] = {}
    for sample in samples:
        if sample.error:
            kinds[sample.error] = kinds.get(sample.error, 0) + 1
    output_tokens = sum(s.output_tokens for s in done)
    prompts = [s.prompt_tokens for s in done if s.prompt_tokens is not None]
    return {
        "requests": len(samples),
        "completed": len(done),
        "errors": len(samples) - len(done),
        "error_kinds": kinds,
        "duration_s": round(duration, 3),
        "requests_per_s": round(len(done) / duration, 3) if duration else None,
        "output_tokens": output_tokens,
        "output_tokens_per_s": round(output_tokens / duration, 2) if duration else None,
        "mean_prompt_tokens": round(statistics.fmean(prompts), 1) if prompts else None,
        "ttft_ms": distribution([s.ttft_s for s in done if s.ttft_s is not None]),
        "itl_ms": distribution([gap for s in done for gap in s.itl_s]),
        "latency_ms": distribution([s.latency_s for s in done if s.latency_s is not None]),
    }


def table(summary: dict) -> str:
    """The summary as an aligned text table."""
    rows = [("requests", f"{summary['completed']}/{summary['requests']} ok, {summary['errors']} errors"),
            ("max in flight", f"{summary['max_in_flight']} (concurrency {summary['concurrency']})"),
            ("output tokens/s", f"{summary['output_tokens_per_s']}"),
            ("requests/s", f"{summary['requests_per_s']}")]  # fmt: skip
    for key in ("ttft_ms", "itl_ms", "latency_ms"):
        d = summary[key]
        rows.append((key, "  ".join(f"{name} {value}" for name, value in d.items())))
    if summary["error_kinds"]:
        rows.append(("error kinds", ", ".join(f"{k}: {n}" for k, n in summary["error_kinds"].items())))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def check_arguments(args: argparse.Namespace) -> None:
    if not args.url.startswith(("http://", "https://")):
        raise InputError(f"--url {args.url}: expected an http(s):// base URL ending in /v1")
    for flag in ("concurrency", "requests", "input_len", "output_len"):
        if getattr(args, flag) < 1:
            raise InputError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: must be at least 1")
    if args.timeout <= 0:
        raise InputError(f"--timeout {args.timeout}: must be positive")


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    summary = asyncio.run(load(args.url, args.model, concurrency=args.concurrency, requests=args.requests,
                               input_len=args.input_len, output_len=args.output_len, timeout=args.timeout,
                               api_key=args.api_key, ignore_eos=args.ignore_eos))  # fmt: skip
    print(table(summary))
    if args.output:
        storage.write_json(args.output, summary)
        print(f"fmops bench serve: results in {args.output}", file=sys.stderr)
    return 1 if summary["errors"] else 0
