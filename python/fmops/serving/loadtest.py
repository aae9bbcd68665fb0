"""Requests against an OpenAI-compatible endpoint, timed: the load test that `fmops bench serve`, the
deploy smoke test and `fmops monitor` share.

Measured from the streamed responses of the official `openai` client, on its aiohttp transport (as vLLM's own
benchmark client, whose numbers these must match): time to first token (TTFT),
inter-token latency (ITL, between streamed chunks), request latency, output tokens/s, the most requests
in flight at once. Every request has a hard deadline: a refused, failed or timed-out request is counted
in `errors` (by kind in `error_kinds`), never waited on forever.

Summary fields: requests, completed, errors, error_kinds, concurrency, max_in_flight, duration_s,
requests_per_s, output_tokens, output_tokens_per_s, mean_prompt_tokens, ttft_ms, itl_ms, latency_ms
(each {mean, p50, p95, p99}), url, model, input_len, output_len, ignore_eos.
"""

from __future__ import annotations

import asyncio
import errno
import statistics
import time
from dataclasses import dataclass, field

from fmops.core.errors import InputError

PERCENTILES = (50, 95, 99)


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
    holds text back); ITL: between consecutive chunks with a choice, each a decoding step whether or not its
    token decodes to text (a special token does not), as vLLM's own benchmark client counts them."""
    sample, started, last = Sample(), time.perf_counter(), None
    stream = await client.completions.create(
        model=model,
        prompt=prompt,
        max_tokens=output_len,
        temperature=0.0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True} if ignore_eos else None,
    )
    chunks = 0
    async for chunk in stream:
        now = time.perf_counter()
        if chunk.choices and sample.ttft_s is None:
            sample.ttft_s = now - started
        if chunk.choices:
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


def refused(error: BaseException) -> bool:
    """Whether a refused connection is behind `error`. httpx-aiohttp 0.2 maps aiohttp's connector error to
    httpx.ConnectTimeout, so the openai client reports a refused connection as a timeout; the cause chain
    still holds the OSError."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED:
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def error_kind(error: BaseException) -> str:
    """A short name for why a request failed: the openai exception class, or `timeout`."""
    from openai import APIConnectionError, APITimeoutError

    if refused(error):
        return APIConnectionError.__name__
    if isinstance(error, TimeoutError | asyncio.TimeoutError | APITimeoutError):
        return "timeout"
    status = getattr(error, "status_code", None)
    return f"{type(error).__name__}" + (f" {status}" if status else "")


async def run(
    url: str,
    model: str,
    *,
    concurrency: int,
    requests: int,
    input_len: int,
    output_len: int,
    timeout: float,
    api_key: str = "EMPTY",
    ignore_eos: bool = False,
) -> dict:
    """Send `requests` streamed completions, `concurrency` at a time; returns the summary (module docstring)."""
    from openai import AsyncOpenAI, DefaultAioHttpClient

    client = AsyncOpenAI(
        base_url=url,
        api_key=api_key or "EMPTY",
        timeout=timeout,
        max_retries=0,
        http_client=DefaultAioHttpClient(timeout=timeout),
    )
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
    summary.update(
        url=url,
        model=model,
        concurrency=concurrency,
        max_in_flight=peak,
        input_len=input_len,
        output_len=output_len,
        ignore_eos=ignore_eos,
    )
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
