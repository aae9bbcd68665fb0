"""The serving benchmark: one load test (fmops.serving.loadtest) with its settings checked, as a table."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fmops.core import storage
from fmops.core.errors import InputError
from fmops.serving import loadtest


@dataclass(frozen=True, kw_only=True)
class LoadTest:
    """What to send: where, how many requests, how many at once, how long each prompt and answer is."""

    url: str
    model: str = ""
    concurrency: int = 8
    requests: int = 64
    input_len: int = 32
    output_len: int = 16
    timeout: float = 60.0
    api_key: str = "EMPTY"
    ignore_eos: bool = False

    def check(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise InputError(f"--url {self.url}: expected an http(s):// base URL ending in /v1")
        for name in ("concurrency", "requests", "input_len", "output_len"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least 1")
        if self.timeout <= 0:
            raise InputError(f"--timeout {self.timeout}: must be positive")


def benchmark(test: LoadTest, output: str = "") -> dict:
    """Run the load test; returns its summary (written as JSON to `output` when given)."""
    test.check()
    summary = asyncio.run(
        loadtest.run(
            test.url,
            test.model,
            concurrency=test.concurrency,
            requests=test.requests,
            input_len=test.input_len,
            output_len=test.output_len,
            timeout=test.timeout,
            api_key=test.api_key,
            ignore_eos=test.ignore_eos,
        )
    )
    if output:
        storage.write_json(output, summary)
    return summary


def table(summary: dict) -> str:
    """The summary as an aligned text table."""
    rows = [
        ("requests", f"{summary['completed']}/{summary['requests']} ok, {summary['errors']} errors"),
        ("max in flight", f"{summary['max_in_flight']} (concurrency {summary['concurrency']})"),
        ("output tokens/s", f"{summary['output_tokens_per_s']}"),
        ("requests/s", f"{summary['requests_per_s']}"),
    ]
    for key in ("ttft_ms", "itl_ms", "latency_ms"):
        d = summary[key]
        rows.append((key, "  ".join(f"{name} {value}" for name, value in d.items())))
    if summary["error_kinds"]:
        rows.append(("error kinds", ", ".join(f"{k}: {n}" for k, n in summary["error_kinds"].items())))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
