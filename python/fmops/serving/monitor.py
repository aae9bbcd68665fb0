"""Monitor a served model: its quality (the evaluation stage against the endpoint) and latency (a short load
test), appended to a JSONL history and compared with the recent records of the same model."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmops.core import manifest, storage
from fmops.core.errors import InputError
from fmops.evaluation import evaluate
from fmops.evaluation.config import EvaluateConfig
from fmops.serving import drift, loadtest
from fmops.serving.config import MonitorConfig


@dataclass(frozen=True, kw_only=True)
class Inputs:
    endpoint: str
    """OpenAI-compatible base URL (with or without /v1)."""
    history: str
    """JSONL history URI (created on the first run)."""
    model_name: str = ""
    """Model id at the endpoint ('' = its first)."""
    tasks: str = ""
    """Evaluation tasks ('' = the evaluation's default)."""
    task_data: str = ""
    results_dir: str = ""
    api_key: str = ""
    """The endpoint's bearer key, for the evaluation and the latency run."""


def evaluate_endpoint(inputs: Inputs, model_name: str, limit: int | None) -> dict[str, float]:
    """Quality through the evaluation stage's endpoint mode: {"task/metric": value}."""
    cfg = EvaluateConfig(limit=limit, **({"tasks": inputs.tasks} if inputs.tasks else {}))
    target = evaluate.Inputs(
        endpoint=inputs.endpoint, model_name=model_name, api_key=inputs.api_key, task_data=inputs.task_data
    )
    metrics = evaluate.evaluate(cfg, target).metrics
    return {
        f"{task}/{name}": entry["value"]
        for task, entries in sorted(metrics.items())
        for name, entry in sorted(entries.items())
    }


def measure_latency(inputs: Inputs, cfg: MonitorConfig) -> dict[str, Any]:
    base = inputs.endpoint.rstrip("/")
    base = base if base.endswith("/v1") else base + "/v1"
    summary = asyncio.run(
        loadtest.run(
            base,
            inputs.model_name,
            concurrency=cfg.latency_concurrency,
            requests=cfg.latency_requests,
            input_len=16,
            output_len=cfg.output_len,
            timeout=cfg.request_timeout,
            api_key=inputs.api_key,
        )
    )
    return {
        "ttft_ms_p95": summary["ttft_ms"]["p95"],
        "latency_ms_p95": summary["latency_ms"]["p95"],
        "output_tokens_per_s": summary["output_tokens_per_s"],
        "errors": summary["errors"],
        "model": summary["model"],
    }


def write_results(results_dir: str, report: dict[str, Any]) -> None:
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = report["record"]
    metrics = {
        **record["quality"],
        **{k: v for k, v in record["latency"].items() if k != "model"},
        "alerts": len(report["alerts"]),
    }
    storage.write_json(str(out / "monitor.json"), report)
    storage.write_json(str(out / manifest.METRICS), metrics)
    storage.atomic_write_text(str(out / "alert"), "true" if report["alerts"] else "false")
    storage.atomic_write_text(str(out / "drift.md"), drift.markdown(report))


def monitor(cfg: MonitorConfig, inputs: Inputs) -> dict[str, Any]:
    """Measure, record, compare. Returns the report (monitor.json): record, reference, alerts, thresholds,
    and `history_records`, the number of records now in the history."""
    if not inputs.endpoint.startswith(("http://", "https://")):
        raise InputError(f"--endpoint {inputs.endpoint}: expected an http:// or https:// URL")
    history = drift.read_history(inputs.history)
    latency = measure_latency(inputs, cfg)
    model_name = inputs.model_name or latency["model"]
    latency.pop("model")
    quality = evaluate_endpoint(inputs, model_name, cfg.limit)
    record = {
        "time": manifest.now(),
        "endpoint": inputs.endpoint,
        "model_name": model_name,
        "quality": quality,
        "latency": latency,
    }
    ref = drift.reference(history, model_name, cfg.window)
    found = drift.alerts(
        record, ref, quality_drop=cfg.quality_drop, latency_increase=cfg.latency_increase, max_errors=cfg.max_errors
    )
    drift.append(inputs.history, history, record)
    report = {"record": record, "reference": ref, "alerts": found, "thresholds": cfg.model_dump()}
    if inputs.results_dir:
        write_results(inputs.results_dir, report)
    for line in found:
        print(f"fmops monitor: ALERT {line}", file=sys.stderr)
    return {**report, "history_records": len(history) + 1}
