"""`fmops monitor`: quality (evaluation's endpoint mode) and latency of the served tiny model, recorded in
a JSONL history, alerting when they drift past thresholds. Drift rules and bad input:
tests/unit/serving/test_monitor.py."""

from __future__ import annotations

import json

import pytest

from tests.helpers import fmops

pytestmark = pytest.mark.slow  # evaluates and load-tests the served tiny model


def record(model: str, exact: float, ttft: float, latency: float, errors: int = 0) -> dict:
    return {
        "time": "2026-01-01T00:00:00+00:00",
        "endpoint": "http://x/v1",
        "model_name": model,
        "quality": {"demo_addition/exact_match": exact},
        "latency": {"ttft_ms_p95": ttft, "latency_ms_p95": latency, "errors": errors},
    }


def test_monitor_appends_to_the_history_and_alerts_on_drift(served, tmp_path):
    history = tmp_path / "history.jsonl"
    good = record(served.model, 1.0, 0.001, 0.001)  # a past the tiny untrained model cannot match
    history.write_text(json.dumps(good) + "\n")
    results = tmp_path / "results"
    result = fmops(
        "monitor",
        "--endpoint",
        served.base_url,
        "--model-name",
        served.model,
        "--tasks",
        "demo_addition",
        "--task-data",
        "",
        "--history",
        str(history),
        "--results-dir",
        str(results),
        "--thresholds",
        "quality_drop=0.05,latency_increase=0.5",
        "--set",
        "limit=3",
        "--set",
        "latency_requests=2",
        "--set",
        "output_len=2",
        check=False,
    )
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(lines) == 2 and lines[0] == good
    new = lines[1]
    assert new["model_name"] == served.model and new["endpoint"] == served.base_url
    assert new["quality"]["demo_addition/exact_match"] < 1.0
    assert new["latency"]["errors"] == 0 and new["latency"]["ttft_ms_p95"] > 0.001
    assert (results / "alert").read_text() == "true"
    report = json.loads((results / "monitor.json").read_text())
    assert [a.split(":")[0] for a in report["alerts"]] == ["demo_addition/exact_match", "ttft_ms_p95", "latency_ms_p95"]
    metrics = json.loads((results / "metrics.json").read_text())
    assert metrics["alerts"] == 3 and "demo_addition/exact_match" in metrics
    assert "fmops monitor: ALERT demo_addition/exact_match" in result.stderr
    table = (results / "drift.md").read_text()
    exact = new["quality"]["demo_addition/exact_match"]
    assert f"| demo_addition/exact_match | {exact:.4g} | 1 |" in table and "- ttft_ms_p95:" in table
