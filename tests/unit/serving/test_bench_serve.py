"""`fmops bench serve` in-process: failed and timed-out requests are counted, bad input is refused, and the
percentiles of the shared load test (fmops.serving.loadtest)."""

from __future__ import annotations

import asyncio
import errno
import json
import socket
from types import SimpleNamespace

import pytest
from fmops.serving import loadtest
from fmops.serving.loadtest import distribution

from tests.helpers import cli


def test_refused_connections_are_counted_and_exit_1(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    output = tmp_path / "bench.json"
    result = cli(
        "bench",
        "serve",
        "--url",
        f"http://127.0.0.1:{port}/v1",
        "--model",
        "m",
        "--requests",
        "5",
        "--concurrency",
        "2",
        "--output",
        str(output),
    )
    assert result.returncode == 1
    summary = json.loads(output.read_text())
    assert (summary["errors"], summary["completed"]) == (5, 0)
    assert summary["error_kinds"] == {"APIConnectionError": 5}


def test_a_server_that_never_answers_times_out_and_is_counted(tmp_path):
    with socket.socket() as sock:  # accepts connections (backlog) but never replies
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        output = tmp_path / "bench.json"
        result = cli(
            "bench",
            "serve",
            "--url",
            url,
            "--model",
            "m",
            "--requests",
            "3",
            "--concurrency",
            "3",
            "--timeout",
            "1",
            "--output",
            str(output),
        )
    assert result.returncode == 1
    summary = json.loads(output.read_text())
    assert summary["error_kinds"] == {"timeout": 3}
    assert summary["ttft_ms"]["p95"] is None


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--concurrency", "0", "--concurrency 0: must be at least 1"),
        ("--timeout", "-1", "--timeout -1.0: must be positive"),
        ("--url", "localhost:8000", "--url localhost:8000: expected an http(s):// base URL ending in /v1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(flag, value, message):
    args = {"--url": "http://127.0.0.1:9/v1", "--concurrency": "1", "--timeout": "5"}
    args[flag] = value
    result = cli("bench", "serve", *[item for pair in args.items() for item in pair])
    assert result.returncode == 2
    assert result.stderr.strip() == f"fmops bench: error: {message}"


def test_percentiles_interpolate_between_samples():
    d = distribution([0.001 * i for i in range(1, 101)])  # 1..100 ms
    assert d == {"mean": 50.5, "p50": 50.5, "p95": 95.05, "p99": 99.01}
    assert distribution([]) == {"mean": None, "p50": None, "p95": None, "p99": None}
    assert distribution([0.002])["p99"] == 2.0


def test_every_chunk_with_a_choice_is_a_decoding_step_even_without_text():
    def chunk(text=None, usage=None):
        choices = [SimpleNamespace(text=text)] if text is not None else []
        return SimpleNamespace(choices=choices, usage=usage)

    async def stream():
        usage = SimpleNamespace(completion_tokens=3, prompt_tokens=4)
        for item in (chunk("1"), chunk(""), chunk("2"), chunk(usage=usage)):
            yield item

    async def create(**_):
        return stream()

    client = SimpleNamespace(completions=SimpleNamespace(create=create))
    sample = asyncio.run(loadtest.one_request(client, "m", "p", 3, ignore_eos=False))
    assert len(sample.itl_s) == 2 and sample.output_tokens == 3 and sample.prompt_tokens == 4
    assert sample.ttft_s is not None and sample.latency_s >= sample.ttft_s


def test_a_refused_connection_is_named_so_whatever_the_transport_calls_it():
    import httpx
    from openai import APITimeoutError

    request = httpx.Request("POST", "http://127.0.0.1:1/v1/completions")

    try:
        try:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        except OSError as refusal:
            raise TimeoutError("mapped to a timeout by the transport") from refusal
    except TimeoutError as mapped:
        wrapped = APITimeoutError(request=request)
        wrapped.__cause__ = mapped
    assert loadtest.error_kind(wrapped) == "APIConnectionError"
    assert loadtest.error_kind(APITimeoutError(request=request)) == "timeout"
