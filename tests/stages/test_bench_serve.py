"""`fmops bench serve`: the load test against the session's local server, and its failure accounting."""

from __future__ import annotations

import json
import socket

import pytest
from fmops.bench.serve import distribution

from tests.helpers import fmops


def test_concurrency_8_requests_64_has_zero_errors(served, tmp_path):  # noqa: F811
    output = tmp_path / "bench.json"
    result = fmops("bench", "serve", "--url", served.base_url, "--concurrency", "8", "--requests", "64",
                   "--input-len", "8", "--output-len", "3", "--output", str(output), check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(output.read_text())
    assert (summary["requests"], summary["completed"], summary["errors"]) == (64, 64, 0)
    assert summary["max_in_flight"] == 8
    assert summary["model"] == served.model
    assert 64 <= summary["output_tokens"] <= 64 * 3
    for key in ("ttft_ms", "latency_ms"):
        d = summary[key]
        assert 0 < d["p50"] <= d["p95"] <= d["p99"]
    assert summary["ttft_ms"]["p50"] <= summary["latency_ms"]["p50"]
    assert "64/64 ok, 0 errors" in result.stdout


def test_refused_connections_are_counted_and_exit_1(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    output = tmp_path / "bench.json"
    result = fmops("bench", "serve", "--url", f"http://127.0.0.1:{port}/v1", "--model", "m", "--requests", "5",
                   "--concurrency", "2", "--output", str(output), check=False)  # fmt: skip
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
        result = fmops("bench", "serve", "--url", url, "--model", "m", "--requests", "3", "--concurrency", "3",
                       "--timeout", "1", "--output", str(output), check=False, timeout=60)  # fmt: skip
    assert result.returncode == 1
    summary = json.loads(output.read_text())
    assert summary["error_kinds"] == {"timeout": 3}
    assert summary["ttft_ms"]["p95"] is None


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--concurrency", "0", "--concurrency 0: must be at least 1"),
    ("--timeout", "-1", "--timeout -1.0: must be positive"),
    ("--url", "localhost:8000", "--url localhost:8000: expected an http(s):// base URL ending in /v1"),
])  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(flag, value, message):
    args = {"--url": "http://127.0.0.1:9/v1", "--concurrency": "1", "--timeout": "5"}
    args[flag] = value
    result = fmops("bench", "serve", *[item for pair in args.items() for item in pair], check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"fmops bench: error: {message}"


def test_percentiles_interpolate_between_samples():
    d = distribution([0.001 * i for i in range(1, 101)])  # 1..100 ms
    assert d == {"mean": 50.5, "p50": 50.5, "p95": 95.05, "p99": 99.01}
    assert distribution([]) == {"mean": None, "p50": None, "p95": None, "p99": None}
    assert distribution([0.002])["p99"] == 2.0
