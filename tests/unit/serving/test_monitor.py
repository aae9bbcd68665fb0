"""`fmops monitor` without a server: drift against the history's reference, and bad input refused before
any request (in-process). Against a served model: tests/e2e/test_serve_monitor.py."""

from __future__ import annotations

import json

from fmops.serving import drift

from tests.helpers import cli

THRESHOLDS = {"quality_drop": 0.05, "latency_increase": 0.5, "max_errors": 0}


def record(model: str, exact: float, ttft: float, latency: float, errors: int = 0) -> dict:
    return {
        "time": "2026-01-01T00:00:00+00:00",
        "endpoint": "http://x/v1",
        "model_name": model,
        "quality": {"demo_addition/exact_match": exact},
        "latency": {"ttft_ms_p95": ttft, "latency_ms_p95": latency, "errors": errors},
    }


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
        "errors: 1 failed requests (threshold 0)"
    ]


def test_a_malformed_history_is_refused_before_any_request(tmp_path):
    history = tmp_path / "history.jsonl"
    history.write_text(json.dumps(record("m", 1.0, 1, 1)) + "\n{not json\n")
    result = cli("monitor", "--endpoint", "http://127.0.0.1:9/v1", "--history", str(history))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"fmops monitor: error: {history}:2: not valid JSON (Expecting property name enclosed in double quotes)"
    )


def test_an_unknown_threshold_is_refused():
    result = cli(
        "monitor", "--endpoint", "http://127.0.0.1:9/v1", "--history", "h.jsonl", "--thresholds", "quality_dro=0.1"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "fmops monitor: error: --set quality_dro=0.1: field 'quality_dro': unknown field"


def test_an_endpoint_that_is_not_a_url_is_refused(tmp_path):
    result = cli("monitor", "--endpoint", "localhost:8000", "--history", str(tmp_path / "h.jsonl"))
    assert (result.returncode, result.stderr) == (
        2,
        "fmops monitor: error: --endpoint localhost:8000: expected an http:// or https:// URL\n",
    )
    assert not (tmp_path / "h.jsonl").exists()


def test_the_drift_table_and_alert_files(tmp_path):
    from fmops.serving.monitor import write_results

    now = record("m", 0.5, 300, 600)
    report = {
        "record": now,
        "reference": drift.reference([record("m", 0.9, 100, 400)], "m", 5),
        "alerts": ["demo_addition/exact_match: dropped"],
        "thresholds": THRESHOLDS,
    }
    write_results(str(tmp_path), report)
    assert (tmp_path / "alert").read_text() == "true"
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == {
        "demo_addition/exact_match": 0.5,
        "ttft_ms_p95": 300,
        "latency_ms_p95": 600,
        "errors": 0,
        "alerts": 1,
    }
    table = (tmp_path / "drift.md").read_text()
    assert "| demo_addition/exact_match | 0.5 | 0.9 |" in table and "- demo_addition/exact_match: dropped" in table
