"""Deploy a model: publish it to the registry, roll it out, smoke-test it, and only then promote it."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fmops.core import kube, manifest, registry, storage
from fmops.core.errors import InputError
from fmops.serving.config import DeployConfig
from fmops.serving.engine_options import check_engine

# vLLM loads in 30-150 s on 2 shared CPU cores, transformers serve in a few
LOCAL_TIMEOUT = {"transformers": 120.0, "vllm": 600.0}
NAME = re.compile(r"^[a-z]([-a-z0-9]{0,40}[a-z0-9])?$")


@dataclass(frozen=True, kw_only=True)
class Inputs:
    model: str
    """The stage output (or registry version) to deploy."""
    name: str
    """Registry model name; also the Deployment and the model id clients use."""
    registry: str
    """Registry root URI (s3:// for the cluster)."""
    target: Literal["cluster", "local"] = "cluster"
    evaluation: str = ""
    """Evaluation output kept with the version; '' = none."""
    namespace: str = "fmops"
    timeout: float = 0.0
    """Rollout deadline in s; 0: 1800 on the cluster, 120 locally (600 with vLLM)."""
    endpoint: str = ""
    """Base URL the smoke test uses; '' = the in-cluster Service URL."""
    results_dir: str = ""
    api_key: str = ""
    """The serving API key: the smoke test sends it; a local server requires it."""
    engine: str = "transformers"
    """The local target's engine (`fmops serve --engine`): transformers, vllm or auto; the cluster's is vLLM."""


def check_inputs(inputs: Inputs) -> str:
    """Everything that can be refused without side effects. Returns the resolved model URI."""
    if not NAME.match(inputs.name):
        raise InputError(
            f"--name {inputs.name}: must be a DNS label (lowercase letters, digits, '-'; "
            "at most 42 characters, starting with a letter)"
        )
    if not inputs.registry:
        raise InputError("--registry: must not be empty")
    if inputs.target == "cluster" and not inputs.registry.startswith("s3://"):
        raise InputError(
            f"--registry {inputs.registry}: the cluster target needs an s3:// registry "
            "(the serving pods read the model from S3)"
        )
    model = registry.resolve(inputs.model)
    manifest.require_complete_model(model)
    if not storage.exists(storage.join(model, manifest.MANIFEST)):
        raise InputError(
            f"{model}: not an fmops stage output (no {manifest.MANIFEST}); deploy publishes only complete stage outputs"
        )
    if inputs.evaluation and not storage.exists(storage.join(inputs.evaluation, manifest.METRICS)):
        raise InputError(f"{inputs.evaluation}: not an evaluation output (no {manifest.METRICS})")
    if inputs.timeout < 0:
        raise InputError(f"--timeout {inputs.timeout}: must not be negative")
    check_engine(inputs.engine)
    if inputs.target == "local" and inputs.engine == "vllm":
        from fmops.serving import vllm_local

        vllm_local.check_servable(model)
    return model


def publish(inputs: Inputs, model: str) -> tuple[str, str]:
    """(version, version URI): the model as a registry version, with its evaluation beside it."""
    home = registry.model_root(inputs.registry, inputs.name).rstrip("/") + "/"
    if model.rstrip("/").startswith(home):
        version = model.rstrip("/")[len(home) :]
        print(f"fmops deploy: {model} is already version {version}; deploying it as it is", file=sys.stderr)
        return version, model.rstrip("/")
    version = registry.new_version()
    target = registry.publish(inputs.registry, inputs.name, model, version=version, pointer=None)
    if inputs.evaluation:
        with storage.local_copy(inputs.evaluation) as local:
            storage.upload_dir(local, storage.join(target, "evaluation"))
    print(f"fmops deploy: published {model} as {target}", file=sys.stderr)
    return version, target


def smoke(endpoint: str, cfg: DeployConfig, api_key: str) -> dict[str, Any]:
    """The smoke test on the model the endpoint lists first (vLLM lists only --served-model-name)."""
    from fmops.serving.smoke import smoke_test

    return smoke_test(
        endpoint,
        api_key=api_key,
        timeout=cfg.request_timeout,
        connect_deadline_s=cfg.smoke_connect_s,
        load_requests=cfg.smoke_requests,
        load_concurrency=cfg.smoke_concurrency,
    )


def local_engine(requested: str, target: str) -> str:
    """The engine `auto` resolves to, said once here; vLLM's environment created before the rollout's clock
    starts (the first time: minutes)."""
    from fmops.serving import local, vllm_env

    engine, why = local.choose_engine(requested, target)
    if requested == "auto":
        print(f"fmops deploy: engine auto -> {engine} ({why})", file=sys.stderr)
    if engine == "vllm":
        vllm_env.ensure_python(lambda line: print(f"fmops deploy: {line}", file=sys.stderr, flush=True))
    return engine


def deploy_local(inputs: Inputs, cfg: DeployConfig, target: str) -> dict[str, Any]:
    from fmops.serving.process import LocalServer, ServerFailed

    engine = local_engine(inputs.engine, target)
    vllm = engine == "vllm"
    server = LocalServer(
        target,
        api_key=inputs.api_key,
        threads=cfg.local_threads,
        startup_timeout=inputs.timeout or LOCAL_TIMEOUT[engine],
        engine=engine,
        # the cluster's flags: the model id clients use, the context length
        served_model_name=inputs.name if vllm else "",
        max_model_len=cfg.max_model_len if vllm else 0,
    )
    # The server lives only for the smoke test: the endpoint stays empty, since nothing answers at the address
    # once the step ends; `smoke_endpoint` records where the smoke test reached it.
    outcome: dict[str, Any] = {"endpoint": "", "smoke_endpoint": "", "rollout_s": None, "engine": engine}
    try:
        with server:
            outcome.update(smoke_endpoint=server.base_url, rollout_s=round(server.ready_after_s or 0, 2))
            outcome["smoke"] = smoke(server.base_url, cfg, inputs.api_key)
    except ServerFailed as error:
        outcome["failure"] = str(error)
    outcome["server_exit_code"] = server.exit_code
    return outcome


def deploy_cluster(inputs: Inputs, cfg: DeployConfig, target: str, version: str) -> dict[str, Any]:
    from fmops.serving import manifests, objects, rollout
    from fmops.serving.spec import ServingSpec

    deadline = inputs.timeout or 1800.0
    spec = ServingSpec(
        name=inputs.name,
        namespace=inputs.namespace,
        model_uri=target,
        version=version,
        image=cfg.image or ServingSpec.image,
        gpus=cfg.gpus,
        nodes=cfg.nodes,
        replicas=cfg.replicas,
        max_replicas=cfg.max_replicas,
        queue_per_replica=cfg.queue_per_replica,
        max_model_len=cfg.max_model_len,
        extra_args=cfg.extra_args,
        cpu=cfg.cpu,
        memory=cfg.memory,
        progress_deadline_s=int(deadline),
    )
    rollout_objects = objects.all_manifests(spec)
    endpoint = inputs.endpoint or manifests.service_url(spec)
    outcome: dict[str, Any] = {"endpoint": endpoint, "rollout_s": None, "manifests": rollout_objects, "applied": []}
    cluster = rollout.Cluster(kube.connect(), inputs.namespace)
    kind = spec.workload_kind  # a LeaderWorkerSet when the model needs several nodes per replica
    previous = cluster.read_workload(inputs.name, kind)
    try:
        for body in rollout_objects:  # the workload comes last: a failure before it changes nothing that serves
            cluster.apply(body)
            outcome["applied"].append(f"{body['kind']}/{body['metadata']['name']}")
    except rollout.ApplyFailed as error:
        outcome["failure"] = str(error)
        return outcome
    try:
        outcome["rollout_s"] = round(cluster.wait_ready(inputs.name, deadline, kind=kind), 2)
    except rollout.RolloutFailed as error:
        outcome["failure"] = str(error)
        outcome["rolled_back"] = cluster.restore(inputs.name, previous, kind)
        return outcome
    outcome["smoke"] = smoke(endpoint, cfg, inputs.api_key)
    if not outcome["smoke"]["passed"]:
        outcome["failure"] = "smoke test failed: " + "; ".join(outcome["smoke"]["failures"])
        outcome["rolled_back"] = cluster.restore(inputs.name, previous, kind)
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


def deploy(cfg: DeployConfig, inputs: Inputs) -> dict[str, Any]:
    """Publish, roll out, smoke-test, promote on success. Returns the report (deploy.json): status
    `promoted` or `failed`, version, production before/after, the smoke checks, metrics, and why it failed."""
    started = manifest.now()
    model = check_inputs(inputs)
    version, target = publish(inputs, model)
    before = registry.read_pointer(inputs.registry, inputs.name, "production")
    if inputs.target == "local":
        outcome = deploy_local(inputs, cfg, target)
    else:
        outcome = deploy_cluster(inputs, cfg, target, version)
    promoted = "failure" not in outcome and bool((outcome.get("smoke") or {}).get("passed"))
    if promoted:
        registry.set_pointer(inputs.registry, inputs.name, "production", version)
    after = registry.read_pointer(inputs.registry, inputs.name, "production")
    objects = outcome.pop("manifests", None)
    report = {
        "name": inputs.name,
        "target": inputs.target,
        "model": model,
        "version": version,
        "version_uri": target,
        "status": "promoted" if promoted else "failed",
        "production": {"before": before and before["version"], "after": after and after["version"]},
        "started_at": started,
        "finished_at": manifest.now(),
        **outcome,
        "metrics": metrics_of(outcome, promoted),
    }
    if inputs.results_dir:
        write_results(inputs.results_dir, report, objects)
    return report
