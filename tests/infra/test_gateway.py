"""Serving through the Gateway API, read from what `fmops render` commits under argocd/addons/serving-demo/
(exactly what `fmops deploy` applies for the demo model): every InferencePool, HTTPRoute, LeaderWorkerSet,
ServiceMonitor and ScaledObject validates against its upstream CRD; the pool selects the pods that answer
HTTP on the key gate's port and names its endpoint picker; the route sends the model's prefix to the pool;
the serving pods meet PodSecurity `restricted`; the key gate keys every route but /health and /metrics."""

from __future__ import annotations

import asyncio
import copy

import httpx
import pytest
import yaml
from fmops.serving import key_gate
from fmops.serving.keyed_proxy import proxy_app
from fmops.serving.spec import EPP_IMAGE
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.infra import crd_schemas
from tests.infra.conftest import ARGOCD, applications, yaml_documents
from tests.infra.pod_security import violations

FILES = sorted((ARGOCD / "addons" / "serving-demo").glob("*.yaml"))
DOCUMENTS = [(path.name, doc) for path in FILES for doc in yaml_documents(path)]
WITH_SCHEMA = [(name, doc) for name, doc in DOCUMENTS if crd_schemas.has_schema(doc)]


def of(kind: str, file: str = "objects.yaml") -> list[dict]:
    return [doc for name, doc in DOCUMENTS if name == file and doc["kind"] == kind]


def test_both_variants_are_rendered():
    assert [path.name for path in FILES] == ["objects-multinode.yaml", "objects.yaml"]
    kinds = {doc["kind"] for _, doc in WITH_SCHEMA}
    assert {"InferencePool", "HTTPRoute", "LeaderWorkerSet"} <= kinds


@pytest.mark.parametrize("file, document", WITH_SCHEMA, ids=[f"{n}:{d['kind']}" for n, d in WITH_SCHEMA])
def test_objects_validate_against_their_crd(file, document):
    assert crd_schemas.errors(document) == []


def test_the_crd_check_refuses_a_misplaced_field():
    (pool,) = of("InferencePool")
    broken = copy.deepcopy(pool)
    broken["spec"]["targetPortNumber"] = 8000  # the v1alpha2 field, gone in v1
    assert crd_schemas.errors(broken) == [
        "spec: Additional properties are not allowed ('targetPortNumber' was unexpected)"
    ]


@pytest.mark.parametrize("file", ["objects.yaml", "objects-multinode.yaml"])
def test_pool_selects_the_serving_pods_and_names_its_picker(file):
    (pool,) = of("InferencePool", file)
    (route,) = of("HTTPRoute", file)
    services = {doc["metadata"]["name"]: doc for doc in of("Service", file)}
    model = services["demo"]
    assert pool["spec"]["selector"]["matchLabels"] == model["spec"]["selector"]
    assert pool["spec"]["targetPorts"] == [{"number": model["spec"]["ports"][0]["port"]}]
    picker = services[pool["spec"]["endpointPickerRef"]["name"]]
    assert pool["spec"]["endpointPickerRef"]["port"]["number"] in {p["port"] for p in picker["spec"]["ports"]}
    (rule,) = route["spec"]["rules"]
    assert rule["backendRefs"] == [{"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "demo"}]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/demo/v1"}}]
    assert route["spec"]["parentRefs"][0]["name"] == "fmops-inference"


def test_multi_node_pool_routes_to_group_leaders_only():
    (pool,) = of("InferencePool", "objects-multinode.yaml")
    assert pool["spec"]["selector"]["matchLabels"]["leaderworkerset.sigs.k8s.io/worker-index"] == "0"
    (lws,) = of("LeaderWorkerSet", "objects-multinode.yaml")
    assert lws["spec"]["leaderWorkerTemplate"]["size"] == 2
    (scaled,) = of("ScaledObject", "objects-multinode.yaml")
    assert scaled["spec"]["scaleTargetRef"]["kind"] == "LeaderWorkerSet"
    assert not of("Deployment", "objects-multinode.yaml")[1:], "only the endpoint picker is a Deployment"


def serving_pods() -> list[tuple[str, dict]]:
    pods = [
        (f"{n}:{d['metadata']['name']}", d["spec"]["template"]["spec"])
        for n, d in DOCUMENTS
        if d["kind"] == "Deployment"
    ]
    for name, doc in DOCUMENTS:
        if doc["kind"] == "LeaderWorkerSet":
            template = doc["spec"]["leaderWorkerTemplate"]
            pods += [(f"{name}:leader", template["leaderTemplate"]["spec"])]
            pods += [(f"{name}:worker", template["workerTemplate"]["spec"])]
    return pods


@pytest.mark.parametrize("pod_id, pod", serving_pods(), ids=[i for i, _ in serving_pods()])
def test_serving_pods_are_restricted(pod_id, pod):
    assert violations(pod, "restricted") == []


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.url.path)


def gate() -> httpx.AsyncClient:
    upstream_app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])
    upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=upstream_app), base_url="http://model")
    app = proxy_app("k", upstream, open_routes=key_gate.OPEN_ROUTES)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gate")


@pytest.mark.parametrize(
    "method, path, open_",
    [
        ("GET", "/health", True),
        ("GET", "/metrics", True),
        ("POST", "/invocations", False),
        ("GET", "/v1/models", False),
    ],
)
def test_key_gate_keys_everything_but_health_and_metrics(method, path, open_):
    async def call(headers: dict) -> int:
        async with gate() as client:
            return (await client.request(method, path, headers=headers)).status_code

    assert asyncio.run(call({})) == (200 if open_ else 401)
    assert asyncio.run(call({"Authorization": "Bearer k"})) == 200


def test_key_gate_refuses_to_start_without_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("FMOPS_API_KEY", raising=False)
    assert key_gate.serve_gate(8000, "http://127.0.0.1:8001", str(tmp_path / "missing")) == 2


GATEWAY_FILES = sorted((ARGOCD / "addons" / "inference-gateway").glob("*.yaml"))
(GATEWAY,) = [doc for path in GATEWAY_FILES for doc in yaml_documents(path) if doc["kind"] == "Gateway"]
APPS = {doc["metadata"]["name"]: doc for _, doc in applications()}


def wave(name: str) -> int:
    return int(APPS[name]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])


def test_the_gateway_validates_against_its_crd():
    assert crd_schemas.errors(GATEWAY) == []
    broken = copy.deepcopy(GATEWAY)
    broken["spec"]["listeners"][0]["allowedRoutes"]["namespace"] = {"from": "All"}  # misspelled: namespaces
    assert crd_schemas.errors(broken) == [
        "spec.listeners.0.allowedRoutes: Additional properties are not allowed ('namespace' was unexpected)"
    ]


def test_every_route_attaches_to_the_gateway_argo_cd_installs():
    (listener,) = GATEWAY["spec"]["listeners"]
    allowed = listener["allowedRoutes"]["namespaces"]
    assert allowed == {"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": "fmops"}}}
    assert GATEWAY["spec"]["gatewayClassName"] == "istio"
    routes = [doc for _, doc in DOCUMENTS if doc["kind"] == "HTTPRoute"]
    assert routes
    for route in routes:
        assert route["metadata"]["namespace"] == "fmops"
        (parent,) = route["spec"]["parentRefs"]
        assert (parent["name"], parent["namespace"]) == (GATEWAY["metadata"]["name"], GATEWAY["metadata"]["namespace"])
        assert parent.get("sectionName", listener["name"]) == listener["name"]


def test_the_gateway_namespace_is_the_one_the_network_policies_admit():
    app = APPS["inference-gateway"]
    assert app["spec"]["destination"]["namespace"] == GATEWAY["metadata"]["namespace"]
    labels = app["spec"]["syncPolicy"]["managedNamespaceMetadata"]["labels"]
    assert labels["fmops.io/network-role"] == "gateway"
    assert GATEWAY["metadata"]["annotations"]["networking.istio.io/service-type"] == "ClusterIP", "no public LB"


def test_istio_runs_the_inference_extension_and_installs_in_order():
    values = yaml.safe_load((ARGOCD / "addons" / "istiod" / "values.yaml").read_text())
    assert values["pilot"]["env"]["ENABLE_GATEWAY_API_INFERENCE_EXTENSION"] == "true"
    charts = {
        app["metadata"]["name"]: source
        for app in APPS.values()
        for source in app["spec"].get("sources", [])
        if "chart" in source
    }
    assert charts["istio-base"]["targetRevision"] == charts["istiod"]["targetRevision"], "one Istio release"
    assert charts["lws"]["chart"] == "lws" and charts["lws"]["targetRevision"] == "0.10.0"
    for crds in ("gateway-api-crds", "inference-extension-crds", "istio-base"):
        assert wave(crds) < wave("istiod") < wave("inference-gateway") < wave("fmops-workflows"), crds
    assert wave("lws") < wave("fmops-workflows")


def test_crds_are_the_versions_the_schemas_are_read_at():
    revisions = {
        (source["repoURL"].removesuffix(".git").rsplit("/", 1)[1], source["targetRevision"])
        for name in ("gateway-api-crds", "inference-extension-crds")
        for source in APPS[name]["spec"].get("sources") or [APPS[name]["spec"]["source"]]
    }
    # InferenceObjective comes from v1.5.0, the version of the endpoint picker, which still watches it.
    assert revisions == {
        ("gateway-api", "v1.6.1"),
        ("gateway-api-inference-extension", "v1.6.0"),
        ("gateway-api-inference-extension", "v1.5.0"),
    }
    assert APPS["gateway-api-crds"]["spec"]["source"]["path"] == "config/crd/standard"
    assert EPP_IMAGE.endswith(":v1.5.0")
    for name in ("gateway-api-crds", "inference-extension-crds"):
        assert APPS[name]["spec"]["syncPolicy"]["automated"]["prune"] is False, (
            f"{name}: pruning a CRD deletes its objects"
        )
