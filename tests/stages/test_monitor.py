"""`fmops monitor`: quality (evaluation's endpoint mode) and latency of the served tiny model, recorded in
a JSONL history, alerting when they drift past thresholds."""

from __future__ import annotations

import json

from fmops.serving import drift

from tests.helpers import fmops

THRESHOLDS = {"quality_drop": 0.05, "latency_increase": 0.5, "max_errors": 0}


def record(model: str, exact: float, ttft: float, latency: float, errors: int = 0) -> dict:
    return {"time": "2026-01-01T00:00:00+00:00", "endpoint": "http://x/v1", "model_name": model,
            "quality": {"demo_addition/exact_match": exact},
            "latency": {"ttft_ms_p95": ttft, "latency_ms_p95": latency, "errors": errors}}  # fmt: skip


def test_drift_against_the_mean_of_recent_records_of_the_same_model():
    history = [record("other", 0.0, 9000, 9000), record("m", 0.9, 100, 400), record("m", 0.7, 300, 600)]
    ref = drift.reference(history, "m", window=5)
    assert ref["records"] == 2
    assert ref["quality"]["demo_addition/exact_match"] == 0.8
    assert ref["latency"] == {"ttft_ms_p95": 200.0, "latency_ms_p95": 500.0}
    assert drift.alerts(record("m", 0.76, 290, 740), ref, **THRESHOLDS) == []
    assert drift.alerts(record("m", 0.7, 320, 760, errors=2), ref, **THRESHOLDS) == [
        "errors: 2 failed requests (threshold 0)",
        "demo_addition/exact_match: 0.7000 is 0.1000 below the reference 0.8000 (threshold 0.05)",
        "ttft_ms_p95: 320.0 ms is 60% above the reference 200.0 ms (threshold 50%)",
        "latency_ms_p95: 760.0 ms is 52% above the reference 500.0 ms (threshold 50%)",
    ]


def test_without_a_reference_only_errors_alert():
    assert drift.reference([record("other", 1.0, 1, 1)], "m", window=5) is None
    assert drift.alerts(record("m", 0.0, 1e6, 1e6), None, **THRESHOLDS) == []
    assert drift.alerts(record("m", 0.0, 1, 1, errors=1), None, **THRESHOLDS) == [
        "errors: 1 failed requests (threshold 0)"]


def test_monitor_appends_to_the_history_and_alerts_on_drift(served, tmp_path):  # noqa: F811
    history = tmp_path / "history.jsonl"
    good = record(served.model, 1.0, 0.001, 0.001)  # a past the tiny untrained model cannot match
    history.write_text(json.dumps(good) + "\n")
    results = tmp_path / "results"
    result = fmops("monitor", "--endpoint", served.base_url, "--model-name", served.model, "--tasks",
                   "demo_addition", "--task-data", "", "--history", str(history), "--results-dir", str(results),
                   "--thresholds", "quality_drop=0.05,latency_increase=0.5", "--set", "limit=3",
                   "--set", "latency_requests=2", "--set", "output_len=2", check=False)  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(lines) == 2 and lines[0] == good
    new = lines[1]
    assert new["model_name"] == served.model and new["endpoint"] == served.base_url
    assert new["quality"]["demo_addition/exact_match"] < 1.0
    assert new["latency"]["errors"] == 0 and new["latency"]["ttft_ms_p95"] > 0.001
    assert (results / "alert").read_text() == "true"
    report = json.loads((results / "monitor.json").read_text())
    assert [a.split(":")[0] for a in report["alerts"]] == [
        "demo_addition/exact_match", "ttft_ms_p95", "latency_ms_p95"]
    metrics = json.loads((results / "metrics.json").read_text())
    assert metrics["alerts"] == 3 and "demo_addition/exact_match" in metrics
    assert "fmops monitor: ALERT demo_addition/exact_match" in result.stderr
    table = (results / "drift.md").read_text()
    exact = new["quality"]["demo_addition/exact_match"]
    assert f"| demo_addition/exact_match | {exact:.4g} | 1 |" in table and "- ttft_ms_p95:" in table


def test_a_malformed_history_is_refused_before_any_request(tmp_path):
    history = tmp_path / "history.jsonl"
    history.write_text(json.dumps(record("m", 1.0, 1, 1)) + "\n{not json\n")
    result = fmops("monitor", "--endpoint", "http://127.0.0.1:9/v1", "--history", str(history), check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"fmops monitor: error: {history}:2: not valid JSON "
                                     "(Expecting property name enclosed in double quotes)")


def test_an_unknown_threshold_is_refused():
    result = fmops("monitor", "--endpoint", "http://127.0.0.1:9/v1", "--history", "h.jsonl",
                   "--thresholds", "quality_dro=0.1", check=False)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == "fmops monitor: error: --set quality_dro=0.1: field 'quality_dro': unknown field"
