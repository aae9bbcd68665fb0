"""Monitor a served model: evaluate the endpoint, measure its latency, record both, alert on drift.

    fmops monitor --endpoint http://demo.fmops.svc.cluster.local:8000/v1 --model-name demo \
        --tasks demo_addition --task-data '' --history s3://bucket/monitoring/demo.jsonl \
        --results-dir /tmp/fmops/results --thresholds quality_drop=0.05,latency_increase=0.5

Quality comes from `fmops evaluate`'s endpoint mode (lm-evaluation-harness through the OpenAI API), run
in-process; latency from a short `fmops bench serve` run. Both are appended to the history (JSONL) and
compared with the mean of the last `window` records of the same model (fmops.serving.drift).

Thresholds (--thresholds: a YAML file, or inline key=value,...; --set works too): quality_drop (largest
allowed absolute drop of any task/metric, default 0.05), latency_increase (largest allowed relative growth
of ttft_ms_p95 and latency_ms_p95, default 0.5), max_errors (failed latency requests, default 0).

Results (--results-dir): monitor.json (the record, the reference, the alerts), metrics.json (task/metric
values, ttft_ms_p95, latency_ms_p95, output_tokens_per_s, errors, alerts), `alert` (`true` or `false`),
drift.md (this run against the reference, and the alerts, as a table).
Exit status 1 when any threshold is passed, so the scheduled workflow fails and notifies.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field

from fmops.cli import options
from fmops.core import config, manifest, storage
from fmops.core.errors import InputError
from fmops.serving import drift


class MonitorConfig(config.StageConfig):
    quality_drop: float = Field(0.05, ge=0, description="largest allowed drop of any task/metric")
    latency_increase: float = Field(0.5, ge=0, description="largest allowed relative latency growth")
    max_errors: int = Field(0, ge=0, description="failed latency requests allowed")
    window: int = Field(5, ge=1, description="records of the same model the reference averages")
    limit: int | None = Field(None, ge=1, description="documents per task (None: all)")
    latency_requests: int = Field(8, ge=1, description="requests of the latency run")
    latency_concurrency: int = Field(2, ge=1, description="their concurrency")
    output_len: int = Field(16, ge=1, description="max_tokens per latency request")
    request_timeout: float = Field(60.0, gt=0, description="deadline per latency request, s")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", required=True, help="OpenAI-compatible base URL (with or without /v1)")
    parser.add_argument("--model-name", default="", help="model id at the endpoint (default: its first)")
    parser.add_argument("--tasks", default="", help="evaluation tasks (default: demo)")
    parser.add_argument("--task-data", default="", help="folder of the project tasks' JSONL files")
    parser.add_argument("--history", required=True, help="JSONL history URI (created on the first run)")
    parser.add_argument("--thresholds", default="", help="YAML file, or inline key=value,... (see above)")
    parser.add_argument("--results-dir", default="", help="local dir for monitor.json, metrics.json, alert")
    options.add_config_arguments(parser)


def load_config(args: argparse.Namespace) -> MonitorConfig:
    inline = "=" in args.thresholds
    overrides = [part.strip() for part in args.thresholds.split(",") if part.strip()] if inline else []
    source = args.config if inline or not args.thresholds else args.thresholds
    return config.load(MonitorConfig, "monitor", source, overrides + list(args.overrides))


def evaluate_endpoint(endpoint: str, model_name: str, tasks: str, task_data: str,
                      limit: int | None) -> dict[str, float]:
    """Quality through the evaluation stage's endpoint mode: {"task/metric": value}."""
    from fmops.stages import evaluate

    key = api_key()
    if key and not os.environ.get("OPENAI_API_KEY"):
        os.environ["OPENAI_API_KEY"] = key  # the evaluation's endpoint client reads this one
    with tempfile.TemporaryDirectory(prefix="fmops-monitor-") as output:
        parser = argparse.ArgumentParser(prog="fmops evaluate")
        evaluate.add_arguments(parser)
        argv = ["--endpoint", endpoint, "--model-name", model_name, "--tasks", tasks, "--task-data", task_data,
                "--output", output, "--limit", str(limit or "")]  # fmt: skip
        evaluate.run(parser.parse_args(argv))
        metrics = storage.read_json(str(Path(output) / manifest.METRICS))
    return {f"{task}/{name}": entry["value"] for task, entries in sorted(metrics.items())
            for name, entry in sorted(entries.items())}  # fmt: skip


def api_key() -> str:
    """The endpoint's key: $FMOPS_API_KEY, else $OPENAI_API_KEY (what the evaluation stage's client reads)."""
    return os.environ.get("FMOPS_API_KEY") or os.environ.get("OPENAI_API_KEY", "")


def measure_latency(endpoint: str, model_name: str, cfg: MonitorConfig) -> dict[str, Any]:
    from fmops.bench import serve as bench

    base = endpoint.rstrip("/") if endpoint.rstrip("/").endswith("/v1") else endpoint.rstrip("/") + "/v1"
    summary = asyncio.run(bench.load(base, model_name, concurrency=cfg.latency_concurrency,
                                     requests=cfg.latency_requests, input_len=16, output_len=cfg.output_len,
                                     timeout=cfg.request_timeout, api_key=api_key()))  # fmt: skip
    return {"ttft_ms_p95": summary["ttft_ms"]["p95"], "latency_ms_p95": summary["latency_ms"]["p95"],
            "output_tokens_per_s": summary["output_tokens_per_s"], "errors": summary["errors"],
            "model": summary["model"]}  # fmt: skip


def write_results(results_dir: str, report: dict[str, Any]) -> None:
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = report["record"]
    metrics = {**record["quality"], **{k: v for k, v in record["latency"].items() if k != "model"},
               "alerts": len(report["alerts"])}  # fmt: skip
    storage.write_json(str(out / "monitor.json"), report)
    storage.write_json(str(out / manifest.METRICS), metrics)
    storage.atomic_write_text(str(out / "alert"), "true" if report["alerts"] else "false")
    storage.atomic_write_text(str(out / "drift.md"), drift.markdown(report))


def run(args: argparse.Namespace) -> int:
    if not args.endpoint.startswith(("http://", "https://")):
        raise InputError(f"--endpoint {args.endpoint}: expected an http:// or https:// URL")
    cfg = load_config(args)
    history = drift.read_history(args.history)
    latency = measure_latency(args.endpoint, args.model_name, cfg)
    model_name = args.model_name or latency.pop("model")
    latency.pop("model", None)
    quality = evaluate_endpoint(args.endpoint, model_name, args.tasks, args.task_data, cfg.limit)
    record = {"time": manifest.now(), "endpoint": args.endpoint, "model_name": model_name,
              "quality": quality, "latency": latency}  # fmt: skip
    ref = drift.reference(history, model_name, cfg.window)
    found = drift.alerts(record, ref, quality_drop=cfg.quality_drop, latency_increase=cfg.latency_increase,
                         max_errors=cfg.max_errors)  # fmt: skip
    drift.append(args.history, history, record)
    report = {"record": record, "reference": ref, "alerts": found, "thresholds": cfg.model_dump()}
    if args.results_dir:
        write_results(args.results_dir, report)
    for line in found:
        print(f"fmops monitor: ALERT {line}", file=sys.stderr)
    print(f"fmops monitor: {model_name}: {len(found)} alerts; history {args.history} "
          f"({len(history) + 1} records)")  # fmt: skip
    return 1 if found else 0
