"""Serving through the Gateway API: the model's InferencePool, its endpoint picker, and the HTTPRoute.

The InferencePool (`inference.networking.k8s.io/v1`) groups the pods that answer HTTP (every replica's pod,
or each multi-node group's leader) on the key gate's port. Its endpoint picker (EPP, the Gateway API
Inference Extension's, one per pool) scores those pods by queue depth, KV-cache use and prefix-cache
affinity from their /metrics and tells the gateway which one gets each request. The HTTPRoute attaches the
pool to the shared Gateway (argocd/addons/inference-gateway) under `/<name>/v1`, rewritten to vLLM's `/v1`:
each model has its own base URL on the one gateway, which forwards nothing else; the key gate in the pod asks
for the key on everything but /health and /metrics anyway.
The EPP runs as the `fmops-epp` service account (read pods and InferencePools in the namespace).
"""

from __future__ import annotations

import yaml

from fmops.serving.spec import ServingSpec

EXT_PROC_PORT = 9002
HEALTH_PORT = 9003
METRICS_PORT = 9090
PLUGINS_FILE = "default-plugins.yaml"
# The scheduling profile of the inference extension's own chart: queue, KV cache and prefix cache scorers.
PLUGINS = {
    "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
    "kind": "EndpointPickerConfig",
    "plugins": [
        {"type": "queue-scorer"},
        {"type": "kv-cache-utilization-scorer"},
        {"type": "prefix-cache-scorer"},
        {"type": "metrics-data-source", "parameters": {"scheme": "http", "path": "/metrics"}},
        {"type": "core-metrics-extractor"},
    ],
    "schedulingProfiles": [
        {
            "name": "default",
            "plugins": [
                {"pluginRef": "queue-scorer", "weight": 2},
                {"pluginRef": "kv-cache-utilization-scorer", "weight": 2},
                {"pluginRef": "prefix-cache-scorer", "weight": 3},
            ],
        }
    ],
}
# Requests may stream for minutes; the route's default timeout would cut them.
REQUEST_TIMEOUT = "300s"


PICKER_ROLE = {"fmops.io/network-role": "endpoint-picker"}


def epp_labels(spec: ServingSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": "epp", "app.kubernetes.io/instance": spec.epp_name}


def epp_metadata(spec: ServingSpec) -> dict:
    metadata = spec.metadata(spec.epp_name)
    metadata["labels"] = {**metadata["labels"], **epp_labels(spec)}
    return metadata


def epp_config_map(spec: ServingSpec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": epp_metadata(spec),
        "data": {PLUGINS_FILE: yaml.safe_dump(PLUGINS, sort_keys=False)},
    }


def epp_args(spec: ServingSpec) -> list[str]:
    return [
        "--pool-name",
        spec.name,
        "--pool-namespace",
        spec.namespace,
        "--pool-group",
        "inference.networking.k8s.io",
        "--config-file",
        f"/config/{PLUGINS_FILE}",
        "--zap-encoder",
        "json",
        "--v",
        "1",
        "--tracing=false",
        # Plaintext gRPC inside the cluster (the NetworkPolicy admits only the gateway); TLS would need a
        # certificate the gateway trusts.
        "--secure-serving=false",
        "--metrics-endpoint-auth=false",
    ]


def epp_grpc_probe(period_s: int) -> dict:
    return {"grpc": {"port": HEALTH_PORT, "service": "inference-extension"}, "periodSeconds": period_s}


def epp_deployment(spec: ServingSpec) -> dict:
    container = {
        "name": "epp",
        "image": spec.epp_image,
        "args": epp_args(spec),
        "env": [{"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "ports": [
            {"name": "grpc", "containerPort": EXT_PROC_PORT, "protocol": "TCP"},
            {"name": "grpc-health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "resources": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}},
        "livenessProbe": {**epp_grpc_probe(10), "initialDelaySeconds": 5},
        "readinessProbe": epp_grpc_probe(2),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        "volumeMounts": [{"name": "plugins", "mountPath": "/config"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": epp_metadata(spec),
        "spec": {
            "replicas": 1,
            # One active picker: its prefix-cache index is in memory, so the old one goes before the new starts.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": epp_labels(spec)},
            "template": {
                # the network role is what argocd/addons/fmops/networkpolicies.yaml lets reach vLLM and be reached
                "metadata": {"labels": {**spec.metadata()["labels"], **epp_labels(spec), **PICKER_ROLE}},
                "spec": {
                    "serviceAccountName": spec.epp_service_account,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 130,
                    "containers": [container],
                    "volumes": [{"name": "plugins", "configMap": {"name": spec.epp_name}}],
                },
            },
        },
    }


def epp_service(spec: ServingSpec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": epp_metadata(spec),
        "spec": {
            "type": "ClusterIP",
            "selector": epp_labels(spec),
            "ports": [
                {"name": "grpc-ext-proc", "port": EXT_PROC_PORT, "targetPort": "grpc", "protocol": "TCP"},
                {"name": "http-metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
    }


def endpoint_picker(spec: ServingSpec) -> list[dict]:
    """The EPP's objects in apply order: its configuration, its Service, then the Deployment."""
    return [epp_config_map(spec), epp_service(spec), epp_deployment(spec)]


def inference_pool(spec: ServingSpec) -> dict:
    return {
        "apiVersion": "inference.networking.k8s.io/v1",
        "kind": "InferencePool",
        "metadata": spec.metadata(),
        "spec": {
            "selector": {"matchLabels": spec.serving_labels},
            "targetPorts": [{"number": spec.port}],
            "appProtocol": "http",
            "endpointPickerRef": {
                "kind": "Service",
                "name": spec.epp_name,
                "port": {"number": EXT_PROC_PORT},
                # No picker, no routing: a request that cannot be scheduled fails rather than overloading a pod.
                "failureMode": "FailClose",
            },
        },
    }


def route_prefix(spec: ServingSpec) -> str:
    return f"/{spec.name}/v1"


def gateway_url(spec: ServingSpec) -> str:
    """The OpenAI base URL of the model through the Gateway, from inside the cluster."""
    return f"http://{spec.gateway}-istio.{spec.gateway_namespace}.svc.cluster.local{route_prefix(spec)}"


def http_route(spec: ServingSpec) -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": spec.metadata(),
        "spec": {
            "parentRefs": [
                {
                    "group": "gateway.networking.k8s.io",
                    "kind": "Gateway",
                    "name": spec.gateway,
                    "namespace": spec.gateway_namespace,
                }
            ],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": route_prefix(spec)}}],
                    "filters": [
                        {
                            "type": "URLRewrite",
                            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v1"}},
                        }
                    ],
                    "backendRefs": [
                        {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": spec.name}
                    ],
                    "timeouts": {"request": REQUEST_TIMEOUT},
                }
            ],
        },
    }
