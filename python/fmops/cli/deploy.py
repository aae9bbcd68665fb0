"""Deploy a model: publish it to the registry, roll it out, smoke-test it, and only then promote it.

    fmops deploy --model out/dpo --name demo --target local --registry registry \
        --evaluation out/eval --results-dir results
    fmops deploy --model s3://bucket/runs/7/dpo --name demo --target cluster \
        --registry s3://bucket/registry --evaluation s3://bucket/runs/7/eval --timeout 1800

1. Refuse bad input before anything is written or applied: an fmops output without manifest.json, an
   evaluation without metrics.json, a name Kubernetes would refuse, a cluster target on a registry the
   pods cannot read (not s3://).
2. Publish the model as a new registry version (`<registry>/models/<name>/<version>/`, evaluation copied to
   `<version>/evaluation/`); a model that already is a version of <name> there is deployed as it is.
3. Roll out. cluster: vLLM (official image) with Service, ServiceMonitor, PrometheusRule, Grafana dashboard
   and, with max_replicas > replicas, a KEDA ScaledObject, all by server-side apply; wait for the rollout
   (--timeout). local: `fmops serve` on loopback, stopped again at the end so the step ends.
4. Smoke test (fmops.serving.smoke). On failure, or a rollout not ready in time: the previous Deployment
   spec is re-applied (cluster) and `production` is not moved. On success: `production` -> the version.

Results (--results-dir): `endpoint` (the base URL), `deploy.json` (everything below and the smoke checks),
`metrics.json`: promoted (0/1), rollout_s, smoke_passed (0/1), smoke_errors, smoke_ttft_ms_p95,
smoke_latency_ms_p95, smoke_output_tokens_per_s; cluster runs also write `manifests.yaml`.
The smoke test's API key: $FMOPS_API_KEY or $OPENAI_API_KEY (the template maps it from the Secret
fmops-serving-api-key); a local deploy's server then requires it too. Local server threads: local_threads.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from fmops.cli import options
from fmops.core import registry, storage
from fmops.serving.deploy import DeployConfig, Inputs, deploy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="the stage output (or registry version) to deploy")
    parser.add_argument("--name", required=True, help="registry model name; also the Deployment and model id")
    parser.add_argument("--target", choices=["cluster", "local"], default="cluster")
    parser.add_argument("--registry", required=True, help="registry root URI (s3:// for the cluster)")
    parser.add_argument("--evaluation", default="", help="evaluation output to keep with the version")
    parser.add_argument("--namespace", default="fmops", help="Kubernetes namespace (default fmops)")
    parser.add_argument("--timeout", type=seconds, default=0.0,
                        help="rollout deadline in s (default: 1800 cluster, 120 local)")  # fmt: skip
    parser.add_argument("--endpoint", default="",
                        help="base URL the smoke test uses (default: the in-cluster Service URL)")  # fmt: skip
    parser.add_argument("--results-dir", default="", help="local dir for endpoint, deploy.json, metrics.json")
    options.add_config_arguments(parser)


def seconds(text: str) -> float:
    """A --timeout value; '' (what templates pass for unset) means the target's default."""
    try:
        return float(text) if text else 0.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got '{text}'") from None


def api_key() -> str:
    """The serving API key: $FMOPS_API_KEY, else $OPENAI_API_KEY (as `fmops monitor` reads it)."""
    return os.environ.get("FMOPS_API_KEY") or os.environ.get("OPENAI_API_KEY", "")


def run(args: argparse.Namespace) -> int:
    inputs = Inputs(model=args.model, name=args.name, registry=args.registry, target=args.target,
                    evaluation=args.evaluation, namespace=args.namespace or "fmops", timeout=args.timeout,
                    endpoint=args.endpoint, results_dir=args.results_dir, api_key=api_key())  # fmt: skip
    cfg = options.load_config(DeployConfig, "deploy", args)
    return finish(inputs, deploy(cfg, inputs))


def finish(inputs: Inputs, report: dict[str, Any]) -> int:
    production = storage.join(registry.model_root(inputs.registry, inputs.name), "production")
    if report["status"] != "promoted":
        kept = report["production"]["after"] or "none"
        print(f"fmops deploy: {report.get('failure', 'failed')}", file=sys.stderr)
        print(f"fmops deploy: NOT promoted; production stays at {kept}"
              + (f"; {report['rolled_back']}" if report.get("rolled_back") else ""), file=sys.stderr)
        return 1
    print(f"fmops deploy: version {report['version']} passed the smoke test; production -> {report['version']}",
          file=sys.stderr)  # fmt: skip
    if inputs.target == "local":
        print(f"fmops deploy: serve the production model with: fmops serve --model {production}")
    else:
        print(f"fmops deploy: serving at {report['endpoint']} (model id '{inputs.name}')")
    return 0
