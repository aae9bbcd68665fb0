"""`fmops deploy`, `fmops serve`, `fmops monitor`: rolling a model out, serving it here, watching it in production."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from fmops.cli import options
from fmops.cli.command import Command
from fmops.core import config, registry, storage
from fmops.core.errors import InputError
from fmops.serving import deploy as deployment
from fmops.serving import key_gate as gating
from fmops.serving import monitor as monitoring
from fmops.serving import serve as serving
from fmops.serving.config import DeployConfig, MonitorConfig
from fmops.serving.engine_options import EngineOptions

DEPLOY = """Deploy a model: publish it to the registry, roll it out, smoke-test it, and only then promote it.

    fmops deploy --model out/dpo --name demo --target local --registry registry \\
        --evaluation out/eval --results-dir results
    fmops deploy --model out/dpo --name demo --target local --engine vllm --registry registry
    fmops deploy --model s3://bucket/runs/7/dpo --name demo --target cluster \\
        --registry s3://bucket/registry --evaluation s3://bucket/runs/7/eval --timeout 1800

A failed smoke test or rollout leaves `production` where it was (cluster: the previous spec is re-applied).
The smoke test's API key: $FMOPS_API_KEY or $OPENAI_API_KEY. Settings: fmops.serving.config.DeployConfig.
Manual: python/fmops/serving/README.md
"""

SERVE = """Serve a model on localhost with an OpenAI-compatible API, in the foreground until SIGTERM or Ctrl-C.

    fmops serve --model registry/models/demo/production --port 8000
    curl http://127.0.0.1:8000/v1/models        # the served model is listed first, under the id to use

    fmops serve --model registry/models/demo/production --engine vllm   # vLLM, as the cluster serves

--model: a model directory, a registry pointer or an s3:// URI. With a key ($FMOPS_API_KEY or --api-key-file),
every route but /health needs `Authorization: Bearer KEY`. --engine vllm runs vLLM from its own environment:
$FMOPS_VLLM_PYTHON, else one created on first use under $FMOPS_CACHE (default ~/.cache/fmops; minutes, 3.5 GB).
Manual: python/fmops/serving/README.md
"""

MONITOR = """Monitor a served model: evaluate the endpoint, measure its latency, record both, alert on drift.

    fmops monitor --endpoint http://demo.fmops.svc.cluster.local:8000/v1 --model-name demo \\
        --tasks demo_addition --task-data '' --history s3://bucket/monitoring/demo.jsonl \\
        --results-dir /tmp/fmops/results --thresholds quality_drop=0.05,latency_increase=0.5

--thresholds: a YAML file, or inline key=value,... (fmops.serving.config.MonitorConfig). The endpoint's key:
$FMOPS_API_KEY, else $OPENAI_API_KEY. Exit 1 when any threshold is passed.
Manual: python/fmops/serving/README.md
"""


def api_key() -> str:
    """The serving API key: $FMOPS_API_KEY, else $OPENAI_API_KEY (what the templates map the Secret to)."""
    return os.environ.get("FMOPS_API_KEY") or os.environ.get("OPENAI_API_KEY", "")


def deploy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="the stage output (or registry version) to deploy")
    parser.add_argument("--name", required=True, help="registry model name; also the Deployment and model id")
    parser.add_argument("--target", choices=["cluster", "local"], default="cluster")
    parser.add_argument("--registry", required=True, help="registry root URI (s3:// for the cluster)")
    parser.add_argument("--evaluation", default="", help="evaluation output to keep with the version")
    parser.add_argument("--namespace", default="fmops", help="Kubernetes namespace (default fmops)")
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=0.0,
        help="rollout deadline in s (default: 1800 cluster, 120 local, 600 local vLLM)",
    )
    parser.add_argument(
        "--engine",
        default="transformers",
        help="local target's engine: transformers (default), vllm or auto (fmops serve --engine); the cluster's: vLLM",
    )
    parser.add_argument(
        "--endpoint", default="", help="base URL the smoke test uses (default: the in-cluster Service URL)"
    )
    parser.add_argument("--results-dir", default="", help="local dir for endpoint, deploy.json, metrics.json")
    options.add_config_arguments(parser)


def seconds(text: str) -> float:
    """A --timeout value; '' (what templates pass for unset) means the target's default."""
    try:
        return float(text) if text else 0.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got '{text}'") from None


def deploy(args: argparse.Namespace) -> int:
    inputs = deployment.Inputs(
        model=args.model,
        name=args.name,
        registry=args.registry,
        target=args.target,
        evaluation=args.evaluation,
        namespace=args.namespace or "fmops",
        timeout=args.timeout,
        endpoint=args.endpoint,
        results_dir=args.results_dir,
        api_key=api_key(),
        engine=args.engine or "transformers",
    )
    report = deployment.deploy(options.load_config(DeployConfig, "deploy", args), inputs)
    return report_deployment(inputs, report)


def report_deployment(inputs: deployment.Inputs, report: dict[str, Any]) -> int:
    if report["status"] != "promoted":
        kept = report["production"]["after"] or "none"
        rolled_back = f"; {report['rolled_back']}" if report.get("rolled_back") else ""
        print(f"fmops deploy: {report.get('failure', 'failed')}", file=sys.stderr)
        print(f"fmops deploy: NOT promoted; production stays at {kept}{rolled_back}", file=sys.stderr)
        return 1
    version = report["version"]
    print(f"fmops deploy: version {version} passed the smoke test; production -> {version}", file=sys.stderr)
    if inputs.target == "local":
        production = storage.join(registry.model_root(inputs.registry, inputs.name), "production")
        engine = " --engine vllm" if report.get("engine") == "vllm" else ""
        print(f"fmops deploy: serve the production model with: fmops serve --model {production}{engine}")
    else:
        print(f"fmops deploy: serving at {report['endpoint']} (model id '{inputs.name}')")
    return 0


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory, registry pointer or s3:// URI")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--threads",
        type=lambda text: int(text) if text else 0,
        default=0,
        help="torch CPU threads (default: torch's own; 1 suits small models on shared cores)",
    )
    parser.add_argument(
        "--api-key-file",
        default="",
        help="file holding the bearer key every route but /health requires (default: $FMOPS_API_KEY; none: any key)",
    )
    parser.add_argument(
        "--engine",
        choices=["transformers", "vllm", "auto"],
        default="transformers",
        help="transformers (default), vllm (its own environment, created on first use) or auto (vllm where present)",
    )
    parser.add_argument("--served-model-name", default="", help="vLLM: the model id (default: the model directory)")
    parser.add_argument("--max-model-len", type=int, default=0, help="vLLM: context length (default: the model's)")
    parser.add_argument(
        "--vllm-arg",
        dest="vllm_args",
        action="append",
        default=[],
        metavar="ARG",
        help="one more vLLM argument, repeatable: --vllm-arg=--max-num-seqs=8",
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=600.0, help="vLLM: seconds to wait for it to load (default 600)"
    )


def serving_key(key_file: str) -> str:
    """From a file or the environment, never the command line, where `ps` would show it to every local user."""
    if not key_file:
        return os.environ.get("FMOPS_API_KEY", "")
    try:
        key = Path(key_file).read_text().strip()
    except OSError as failure:
        raise InputError(f"--api-key-file {key_file}: {failure.strerror or failure}") from None
    if not key:
        raise InputError(f"--api-key-file {key_file}: empty")
    return key


def serve(args: argparse.Namespace) -> int:
    key = serving_key(args.api_key_file)
    serving.serve(
        model=args.model,
        host=args.host,
        port=args.port,
        threads=args.threads,
        api_key=key,
        options=EngineOptions(
            engine=args.engine,
            served_name=args.served_model_name,
            max_model_len=args.max_model_len,
            extra_args=tuple(args.vllm_args or ()),
            ready_timeout=args.ready_timeout,
        ),
    )
    return 0


def monitor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", required=True, help="OpenAI-compatible base URL (with or without /v1)")
    parser.add_argument("--model-name", default="", help="model id at the endpoint (default: its first)")
    parser.add_argument("--tasks", default="", help="evaluation tasks (default: demo)")
    parser.add_argument("--task-data", default="", help="folder of the project tasks' JSONL files")
    parser.add_argument("--history", required=True, help="JSONL history URI (created on the first run)")
    parser.add_argument("--thresholds", default="", help="YAML file, or inline key=value,... (see above)")
    parser.add_argument("--results-dir", default="", help="local dir for monitor.json, metrics.json, alert")
    options.add_config_arguments(parser)


def monitor_config(args: argparse.Namespace) -> MonitorConfig:
    """--thresholds is a config file, or inline overrides applied before --set."""
    inline = "=" in args.thresholds
    overrides = [part.strip() for part in args.thresholds.split(",") if part.strip()] if inline else []
    source = args.config if inline or not args.thresholds else args.thresholds
    return config.load(MonitorConfig, "monitor", source, overrides + list(args.overrides))


def monitor(args: argparse.Namespace) -> int:
    inputs = monitoring.Inputs(
        endpoint=args.endpoint,
        history=args.history,
        model_name=args.model_name,
        tasks=args.tasks,
        task_data=args.task_data,
        results_dir=args.results_dir,
        api_key=api_key(),
    )
    report = monitoring.monitor(monitor_config(args), inputs)
    alerts, records = len(report["alerts"]), report["history_records"]
    model_name = report["record"]["model_name"]
    print(f"fmops monitor: {model_name}: {alerts} alerts; history {args.history} ({records} records)")
    return 1 if report["alerts"] else 0


KEY_GATE = """The API-key proxy in front of vLLM in a serving pod (the pod's only open port).

    fmops key-gate --port 8000 --upstream http://127.0.0.1:8001 --api-key-file /var/run/fmops/api-key

Every route but GET /health and GET /metrics needs `Authorization: Bearer KEY` (vLLM checks its own key only
on /v1). The key comes from the file or $FMOPS_API_KEY, never the command line; none: exit 2.
Manual: python/fmops/serving/README.md
"""


def key_gate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (all interfaces)")
    parser.add_argument("--upstream", default="http://127.0.0.1:8001", help="vLLM's loopback base URL")
    parser.add_argument("--api-key-file", default="", help="file holding the key; else $FMOPS_API_KEY")


def key_gate(args: argparse.Namespace) -> int:
    return gating.serve_gate(args.port, args.upstream, args.api_key_file)


COMMANDS = {
    "key-gate": Command(KEY_GATE, key_gate_arguments, key_gate),
    "deploy": Command(DEPLOY, deploy_arguments, deploy),
    "serve": Command(SERVE, serve_arguments, serve),
    "monitor": Command(MONITOR, monitor_arguments, monitor),
}
