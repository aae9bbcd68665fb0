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
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import Field

from fmops.cli import options
from fmops.core import config, manifest, registry, storage
from fmops.core.config import StageConfig
from fmops.core.errors import InputError

NAME = re.compile(r"^[a-z]([-a-z0-9]{0,40}[a-z0-9])?$")


class DeployConfig(StageConfig):
    image: str = Field("", description="vLLM image; empty: the pinned official one")
    gpus: int = Field(1, ge=1, description="GPUs per replica (tensor parallel size)")
    replicas: int = Field(1, ge=1, description="replicas (the minimum when autoscaling)")
    max_replicas: int = Field(0, ge=0, description="> replicas: KEDA autoscaling on queue depth")
    queue_per_replica: int = Field(4, ge=1, description="KEDA target of waiting requests per replica")
    max_model_len: int = Field(0, ge=0, description="vLLM --max-model-len; 0: the model's")
    extra_args: list[str] = Field(default_factory=list, description="more vLLM arguments")
    cpu: str = Field("4", description="CPU request per replica")
    memory: str = Field("32Gi", description="memory request and limit per replica")
    smoke_requests: int = Field(4, ge=1, description="requests in the smoke test's load run")
    smoke_concurrency: int = Field(2, ge=1, description="their concurrency")
    request_timeout: float = Field(60.0, gt=0, description="deadline per smoke request, s")
    local_threads: int = Field(1, ge=0, description="torch threads of the local server (0: torch's "
                               "default); 1 serves the tiny demo model ~10x faster on 2 shared cores")
    smoke_connect_s: float = Field(60.0, ge=0, description="how long the smoke test retries connecting, s")


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


def check_inputs(args: argparse.Namespace) -> str:
    """Everything that can be refused without side effects. Returns the resolved model URI."""
    if not NAME.match(args.name):
        raise InputError(f"--name {args.name}: must be a DNS label (lowercase letters, digits, '-'; "
                         "at most 42 characters, starting with a letter)")  # fmt: skip
    if not args.registry:
        raise InputError("--registry: must not be empty")
    if args.target == "cluster" and not args.registry.startswith("s3://"):
        raise InputError(f"--registry {args.registry}: the cluster target needs an s3:// registry "
                         "(the serving pods read the model from S3)")  # fmt: skip
    model = registry.resolve(args.model)
    manifest.require_complete_model(model)
    if not storage.exists(storage.join(model, manifest.MANIFEST)):
        raise InputError(f"{model}: not an fmops stage output (no {manifest.MANIFEST}); "
                         "deploy publishes only complete stage outputs")  # fmt: skip
    if args.evaluation and not storage.exists(storage.join(args.evaluation, manifest.METRICS)):
        raise InputError(f"{args.evaluation}: not an evaluation output (no {manifest.METRICS})")
    args.namespace = args.namespace or "fmops"
    if args.timeout < 0:
        raise InputError(f"--timeout {args.timeout}: must not be negative")
    return model


def publish(args: argparse.Namespace, model: str) -> tuple[str, str]:
    """(version, version URI): the model as a registry version, with its evaluation beside it."""
    home = registry.model_root(args.registry, args.name).rstrip("/") + "/"
    if model.rstrip("/").startswith(home):
        version = model.rstrip("/")[len(home):]
        print(f"fmops deploy: {model} is already version {version}; deploying it as it is", file=sys.stderr)
        return version, model.rstrip("/")
    version = registry.new_version()
    target = registry.publish(args.registry, args.name, model, version=version, pointer=None)
    if args.evaluation:
        with storage.local_copy(args.evaluation) as local:
            storage.upload_dir(local, storage.join(target, "evaluation"))
    print(f"fmops deploy: published {model} as {target}", file=sys.stderr)
    return version, target


def api_key() -> str:
    """The serving API key: $FMOPS_API_KEY, else $OPENAI_API_KEY (as `fmops monitor` reads it)."""
    return os.environ.get("FMOPS_API_KEY") or os.environ.get("OPENAI_API_KEY", "")


def smoke(endpoint: str, cfg: DeployConfig) -> dict[str, Any]:
    """The smoke test on the model the endpoint lists first (vLLM lists only --served-model-name)."""
    from fmops.serving.smoke import smoke_test

    return smoke_test(endpoint, api_key=api_key(), timeout=cfg.request_timeout,
                      connect_deadline_s=cfg.smoke_connect_s, load_requests=cfg.smoke_requests,
                      load_concurrency=cfg.smoke_concurrency)  # fmt: skip


def deploy_local(args: argparse.Namespace, cfg: DeployConfig, target: str) -> dict[str, Any]:
    from fmops.serving.process import LocalServer, ServerFailed

    server = LocalServer(target, api_key=api_key(), threads=cfg.local_threads,
                         startup_timeout=args.timeout or 120.0)
    outcome: dict[str, Any] = {"endpoint": "", "rollout_s": None}
    try:
        with server:
            outcome.update(endpoint=server.base_url, rollout_s=round(server.ready_after_s or 0, 2))
            outcome["smoke"] = smoke(server.base_url, cfg)
    except ServerFailed as error:
        outcome["failure"] = str(error)
    outcome["server_exit_code"] = server.exit_code
    return outcome


def deploy_cluster(args: argparse.Namespace, cfg: DeployConfig, target: str, version: str) -> dict[str, Any]:
    from fmops.serving import manifests, rollout
    from fmops.serving.spec import ServingSpec

    deadline = args.timeout or 1800.0
    spec = ServingSpec(name=args.name, namespace=args.namespace, model_uri=target, version=version,
                       image=cfg.image or ServingSpec.image, gpus=cfg.gpus, replicas=cfg.replicas,
                       max_replicas=cfg.max_replicas, queue_per_replica=cfg.queue_per_replica,
                       max_model_len=cfg.max_model_len, extra_args=cfg.extra_args, cpu=cfg.cpu,
                       memory=cfg.memory, progress_deadline_s=int(deadline))  # fmt: skip
    objects = manifests.all_manifests(spec)
    endpoint = args.endpoint or manifests.service_url(spec)
    outcome: dict[str, Any] = {"endpoint": endpoint, "rollout_s": None, "manifests": objects, "applied": []}
    cluster = rollout.Cluster(rollout.connect(), args.namespace)
    previous = cluster.read_deployment(args.name)
    try:
        for body in objects:  # the Deployment comes last: a failure before it changes nothing that serves
            cluster.apply(body)
            outcome["applied"].append(f"{body['kind']}/{body['metadata']['name']}")
    except rollout.ApplyFailed as error:
        outcome["failure"] = str(error)
        return outcome
    try:
        outcome["rollout_s"] = round(cluster.wait_ready(args.name, deadline), 2)
    except rollout.RolloutFailed as error:
        outcome["failure"] = str(error)
        outcome["rolled_back"] = cluster.restore(args.name, previous)
        return outcome
    outcome["smoke"] = smoke(endpoint, cfg)
    if not outcome["smoke"]["passed"]:
        outcome["failure"] = "smoke test failed: " + "; ".join(outcome["smoke"]["failures"])
        outcome["rolled_back"] = cluster.restore(args.name, previous)
    return outcome


def metrics_of(outcome: dict[str, Any], promoted: bool) -> dict[str, Any]:
    smoke = outcome.get("smoke") or {}
    load = smoke.get("load") or {}
    return {
        "promoted": int(promoted),
        "rollout_s": outcome.get("rollout_s"),
        "smoke_passed": int(bool(smoke.get("passed"))),
        "smoke_errors": load.get("errors"),
        "smoke_ttft_ms_p95": (load.get("ttft_ms") or {}).get("p95"),
        "smoke_latency_ms_p95": (load.get("latency_ms") or {}).get("p95"),
        "smoke_output_tokens_per_s": load.get("output_tokens_per_s"),
    }


def write_results(results_dir: str, report: dict[str, Any], objects: list[dict] | None) -> None:
    import yaml

    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    storage.atomic_write_text(str(out / "endpoint"), report["endpoint"])
    storage.write_json(str(out / "deploy.json"), report)
    storage.write_json(str(out / manifest.METRICS), report["metrics"])
    if objects:
        storage.atomic_write_text(str(out / "manifests.yaml"), yaml.safe_dump_all(objects, sort_keys=False))


def run(args: argparse.Namespace) -> int:
    started = manifest.now()
    model = check_inputs(args)
    cfg = config.load(DeployConfig, "deploy", args.config, args.overrides)
    version, target = publish(args, model)
    before = registry.read_pointer(args.registry, args.name, "production")
    if args.target == "local":
        outcome = deploy_local(args, cfg, target)
    else:
        outcome = deploy_cluster(args, cfg, target, version)
    promoted = "failure" not in outcome and bool((outcome.get("smoke") or {}).get("passed"))
    if promoted:
        registry.set_pointer(args.registry, args.name, "production", version)
    after = registry.read_pointer(args.registry, args.name, "production")
    objects = outcome.pop("manifests", None)
    report = {"name": args.name, "target": args.target, "model": model, "version": version,
              "version_uri": target, "status": "promoted" if promoted else "failed",
              "production": {"before": before and before["version"], "after": after and after["version"]},
              "started_at": started, "finished_at": manifest.now(), **outcome,
              "metrics": metrics_of(outcome, promoted)}  # fmt: skip
    if args.results_dir:
        write_results(args.results_dir, report, objects)
    return finish(args, report)


def finish(args: argparse.Namespace, report: dict[str, Any]) -> int:
    production = storage.join(registry.model_root(args.registry, args.name), "production")
    if report["status"] != "promoted":
        kept = report["production"]["after"] or "none"
        print(f"fmops deploy: {report.get('failure', 'failed')}", file=sys.stderr)
        print(f"fmops deploy: NOT promoted; production stays at {kept}"
              + (f"; {report['rolled_back']}" if report.get("rolled_back") else ""), file=sys.stderr)
        return 1
    print(f"fmops deploy: version {report['version']} passed the smoke test; production -> {report['version']}",
          file=sys.stderr)  # fmt: skip
    if args.target == "local":
        print(f"fmops deploy: serve the production model with: fmops serve --model {production}")
    else:
        print(f"fmops deploy: serving at {report['endpoint']} (model id '{args.name}')")
    return 0
