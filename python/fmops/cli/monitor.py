"""Monitor a served model: evaluate the endpoint, measure its latency, record both, alert on drift.

    fmops monitor --endpoint http://demo.fmops.svc.cluster.local:8000/v1 --model-name demo \
        --tasks demo_addition --task-data '' --history s3://bucket/monitoring/demo.jsonl \
        --results-dir /tmp/fmops/results --thresholds quality_drop=0.05,latency_increase=0.5

Quality comes from `fmops evaluate`'s endpoint mode (lm-evaluation-harness through the OpenAI API), run
in-process; latency from a short load test (the one `fmops bench serve` runs). Both are appended to the
history (JSONL) and compared with the mean of the last `window` records of the same model
(fmops.serving.drift).

Thresholds (--thresholds: a YAML file, or inline key=value,...; --set works too): quality_drop (largest
allowed absolute drop of any task/metric, default 0.05), latency_increase (largest allowed relative growth
of ttft_ms_p95 and latency_ms_p95, default 0.5), max_errors (failed latency requests, default 0).

Results (--results-dir): monitor.json (the record, the reference, the alerts), metrics.json (task/metric
values, ttft_ms_p95, latency_ms_p95, output_tokens_per_s, errors, alerts), `alert` (`true` or `false`),
drift.md (this run against the reference, and the alerts, as a table).
The endpoint's API key: $FMOPS_API_KEY, else $OPENAI_API_KEY (the template maps the Secret to the latter).
Exit status 1 when any threshold is passed, so the scheduled workflow fails and notifies.
"""


from __future__ import annotations

import argparse
import os

from fmops.cli import options
from fmops.core import config
from fmops.serving.monitor import Inputs, MonitorConfig, monitor


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
    """--thresholds is a config file, or inline overrides applied before --set."""
    inline = "=" in args.thresholds
    overrides = [part.strip() for part in args.thresholds.split(",") if part.strip()] if inline else []
    source = args.config if inline or not args.thresholds else args.thresholds
    return config.load(MonitorConfig, "monitor", source, overrides + list(args.overrides))


def api_key() -> str:
    """The endpoint's key: $FMOPS_API_KEY, else $OPENAI_API_KEY (what the monitor template maps the Secret to)."""
    return os.environ.get("FMOPS_API_KEY") or os.environ.get("OPENAI_API_KEY", "")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    inputs = Inputs(endpoint=args.endpoint, history=args.history, model_name=args.model_name, tasks=args.tasks,
                    task_data=args.task_data, results_dir=args.results_dir, api_key=api_key())  # fmt: skip
    report = monitor(cfg, inputs)
    model_name = report["record"]["model_name"]
    print(f"fmops monitor: {model_name}: {len(report['alerts'])} alerts; history {args.history} "
          f"({report['history_records']} records)")  # fmt: skip
    return 1 if report["alerts"] else 0
