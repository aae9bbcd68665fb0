"""The generated serving manifests: core kinds by the Kubernetes schema, monitoring kinds by structure,
every PromQL expression (alerts, dashboard, autoscaler) by a PromQL parser; the key gate in front of vLLM,
the pods' security context, the Gateway objects and the multi-node LeaderWorkerSet variant. Their CRD
schemas: tests/infra/test_gateway.py."""

from __future__ import annotations

import json
import re

import kubernetes_validate
import promql_parser
import pytest
from fmops.serving import manifests, monitoring, objects
from fmops.serving.spec import ServingSpec

K8S_VERSION = "1.33.0"


def spec(**overrides) -> ServingSpec:
    values = {
        "name": "demo",
        "model_uri": "s3://bucket/registry/models/demo/v20260101-000000",
        "version": "v20260101-000000",
        **overrides,
    }
    return ServingSpec(**values)


def by_kind(objects: list[dict]) -> dict[str, dict]:
    """The rollout's own objects by kind (the endpoint picker's are named <name>-epp)."""
    return {obj["kind"]: obj for obj in objects if not obj["metadata"]["name"].endswith("-epp")}


def containers(pod: dict) -> dict[str, dict]:
    return {c["name"]: c for c in pod["containers"]}


@pytest.mark.parametrize("autoscale", [False, True])
def test_core_kinds_pass_the_strict_kubernetes_schema(autoscale):
    rendered = objects.all_manifests(spec(max_replicas=4 if autoscale else 0))
    core = [obj for obj in rendered if obj["kind"] in ("Deployment", "Service", "ConfigMap")]
    kinds = sorted(f"{obj['kind']}/{obj['metadata']['name']}" for obj in core)
    assert kinds == [
        "ConfigMap/demo-dashboard",
        "ConfigMap/demo-epp",
        "Deployment/demo",
        "Deployment/demo-epp",
        "Service/demo",
        "Service/demo-epp",
    ]
    for obj in core:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_the_schema_check_can_fail():
    broken = manifests.deployment(spec())
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_deployment_runs_pinned_vllm_on_the_gpu_serve_pool():
    d = manifests.deployment(spec(gpus=2, max_model_len=4096))
    pod = d["spec"]["template"]["spec"]
    vllm, gate = containers(pod)["vllm"], containers(pod)["key-gate"]
    assert re.fullmatch(r"vllm/vllm-openai:v\d+\.\d+\.\d+", vllm["image"])
    assert vllm["command"] == ["vllm", "serve"]
    assert vllm["args"][:3] == ["/models/current", "--served-model-name", "demo"]
    assert vllm["args"][vllm["args"].index("--host") + 1] == "127.0.0.1", "only the key gate is reachable"
    assert "ports" not in vllm and gate["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert vllm["args"][vllm["args"].index("--tensor-parallel-size") + 1] == "2"
    assert vllm["args"][vllm["args"].index("--max-model-len") + 1] == "4096"
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert pod["nodeSelector"] == {"karpenter.sh/nodepool": "gpu-serve"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["serviceAccountName"] == "fmops-serving"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert gate[probe]["httpGet"] == {"path": "/health", "port": "http"}
    # The gate drops the Authorization header it checked: a key in vLLM would refuse every request.
    assert "VLLM_API_KEY" not in {env["name"] for env in vllm["env"]}
    assert gate["command"] == ["fmops", "key-gate"]
    assert gate["args"][gate["args"].index("--upstream") + 1] == "http://127.0.0.1:8001"
    key_file = gate["args"][gate["args"].index("--api-key-file") + 1]
    (mount,) = gate["volumeMounts"]
    assert key_file == f"{mount['mountPath']}/api-key" and mount["readOnly"]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["projected"]["sources"] == [{"secret": {"name": "fmops-serving-api-key"}}]
    assert pod["automountServiceAccountToken"] is False
    sync = pod["initContainers"][0]
    assert sync["command"][:3] == ["aws", "s3", "sync"]
    assert sync["command"][-2:] == ["s3://bucket/registry/models/demo/v20260101-000000/", "/models/current"]
    assert d["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert d["spec"]["template"]["metadata"]["labels"]["fmops.dev/model-version"] == "v20260101-000000"


def test_autoscaling_adds_a_scaled_object_and_leaves_replicas_to_it():
    plain = by_kind(objects.all_manifests(spec()))
    assert "ScaledObject" not in plain and plain["Deployment"]["spec"]["replicas"] == 1
    scaled = by_kind(objects.all_manifests(spec(replicas=2, max_replicas=6, queue_per_replica=3)))
    assert "replicas" not in scaled["Deployment"]["spec"]
    keda = scaled["ScaledObject"]
    assert keda["apiVersion"] == "keda.sh/v1alpha1"
    assert keda["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "demo"}
    assert (keda["spec"]["minReplicaCount"], keda["spec"]["maxReplicaCount"]) == (2, 6)
    trigger = keda["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus" and trigger["metadata"]["threshold"] == "3"
    assert "vllm:num_requests_waiting" in trigger["metadata"]["query"]
    promql_parser.parse(trigger["metadata"]["query"])


def test_the_deployment_is_applied_last_and_the_service_selects_its_pods():
    rendered = objects.all_manifests(spec())
    assert rendered[-1]["kind"] == "Deployment" and rendered[-1]["metadata"]["name"] == "demo"
    # A missing CRD fails the step before any Deployment is applied.
    first_deployment = next(i for i, obj in enumerate(rendered) if obj["kind"] == "Deployment")
    assert all("/" in obj["apiVersion"] and "." in obj["apiVersion"] for obj in rendered[1:4])
    assert max(i for i, obj in enumerate(rendered) if "." in obj["apiVersion"].split("/")[0]) < first_deployment
    selector = rendered[0]["spec"]["selector"]
    assert rendered[0]["kind"] == "Service"
    labels = rendered[-1]["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert rendered[-1]["spec"]["selector"]["matchLabels"] == selector


def test_service_monitor_scrapes_metrics_of_the_service():
    sm = monitoring.service_monitor(spec())
    assert sm["apiVersion"] == "monitoring.coreos.com/v1" and sm["kind"] == "ServiceMonitor"
    assert sm["spec"]["selector"]["matchLabels"] == manifests.service(spec())["spec"]["selector"]
    assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["fmops"]}


def test_prometheus_rule_alerts_parse_and_cover_ttft_errors_and_queue():
    rule = monitoring.prometheus_rule(spec())
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["kind"] == "PrometheusRule"
    rules = rule["spec"]["groups"][0]["rules"]
    names = {r["alert"] for r in rules}
    assert {"FmopsServingTTFTHigh", "FmopsServingErrorRate", "FmopsServingQueueDepth"} <= names
    for r in rules:
        assert set(r) == {"alert", "expr", "for", "labels", "annotations"}
        assert re.fullmatch(r"\d+m", r["for"]) and r["labels"]["severity"] in ("warning", "critical")
        parsed = promql_parser.parse(r["expr"])
        assert type(parsed).__name__ == "BinaryExpr"  # a comparison: the alert fires when it holds
    exprs = {r["alert"]: r["expr"] for r in rules}
    assert "histogram_quantile(0.95" in exprs["FmopsServingTTFTHigh"]
    assert "vllm:time_to_first_token_seconds_bucket" in exprs["FmopsServingTTFTHigh"]
    assert 'status=~"5.."' in exprs["FmopsServingErrorRate"]
    assert "vllm:num_requests_waiting" in exprs["FmopsServingQueueDepth"]
    assert all('namespace="fmops",service="demo"' in e for e in exprs.values())


def test_the_promql_check_can_fail():
    with pytest.raises(ValueError):
        promql_parser.parse("sum(rate(vllm:num_requests_waiting[5m]) >")


def test_dashboard_configmap_holds_a_grafana_dashboard_with_parsable_queries():
    cm = monitoring.dashboard_configmap(spec())
    assert cm["metadata"]["name"] == "demo-dashboard"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    ((filename, text),) = cm["data"].items()
    assert filename.endswith(".json")
    board = json.loads(text)
    assert board["uid"] and board["title"] == "fmops serving: demo"
    assert len(board["panels"]) >= 6
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for panel in board["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            promql_parser.parse(target["expr"])
