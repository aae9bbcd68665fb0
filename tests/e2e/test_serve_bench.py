"""`fmops bench serve` against the session's local server. Failure accounting and bad input:
tests/unit/serving/test_bench_serve.py."""

from __future__ import annotations

import json

import pytest

from tests.helpers import fmops

pytestmark = pytest.mark.slow  # load-tests the served tiny model


def test_concurrency_8_requests_64_has_zero_errors(served, tmp_path):
    output = tmp_path / "bench.json"
    result = fmops(
        "bench",
        "serve",
        "--url",
        served.base_url,
        "--concurrency",
        "8",
        "--requests",
        "64",
        "--input-len",
        "8",
        "--output-len",
        "3",
        "--output",
        str(output),
        check=False,
    )
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
