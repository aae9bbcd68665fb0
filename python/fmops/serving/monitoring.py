"""Monitoring objects of a serving rollout: ServiceMonitor, PrometheusRule, Grafana dashboard, KEDA.

All queries use vLLM's own metrics (`vllm:*`, named as the release of the pinned VLLM_IMAGE names them) and
the HTTP counters its server exports, scoped to the rollout by the `namespace` and `service` labels
Prometheus adds to scraped series.
kube-prometheus-stack (argocd/addons) selects every ServiceMonitor and rule; its Grafana sidecar loads
ConfigMaps labelled `grafana_dashboard: "1"`.
"""

from __future__ import annotations

import json

from fmops.serving.spec import ServingSpec

# Alert thresholds: a starting point for an interactive chat model; tune per model with --set.
TTFT_P95_SECONDS = 2.0
ERROR_RATIO = 0.05
QUEUE_WAITING = 10


def selector(spec: ServingSpec) -> str:
    return f'namespace="{spec.namespace}",service="{spec.name}"'


def queries(spec: ServingSpec) -> dict[str, str]:
    """Named PromQL expressions shared by the alerts, the dashboard and the autoscaler."""
    s = selector(spec)

    def quantile(q: float, metric: str) -> str:
        return f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{s}}}[5m])))"

    return {
        "ttft_p50": quantile(0.5, "vllm:time_to_first_token_seconds"),
        "ttft_p95": quantile(0.95, "vllm:time_to_first_token_seconds"),
        "itl_p95": quantile(0.95, "vllm:inter_token_latency_seconds"),
        "latency_p95": quantile(0.95, "vllm:e2e_request_latency_seconds"),
        "error_ratio": f'sum(rate(http_requests_total{{{s},status=~"5.."}}[5m]))'
        f" / clamp_min(sum(rate(http_requests_total{{{s}}}[5m])), 1e-9)",
        "waiting": f"sum(vllm:num_requests_waiting{{{s}}})",
        "running": f"sum(vllm:num_requests_running{{{s}}})",
        "generation_tokens_per_s": f"sum(rate(vllm:generation_tokens_total{{{s}}}[5m]))",
        "kv_cache_usage": f"max(vllm:kv_cache_usage_perc{{{s}}})",
        "up": f"sum(up{{{s}}})",
    }


def service_monitor(spec: ServingSpec) -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": spec.metadata(),
        "spec": {
            "selector": {"matchLabels": spec.labels},
            "namespaceSelector": {"matchNames": [spec.namespace]},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
        },
    }


def alert(name: str, expr: str, duration: str, severity: str, summary: str) -> dict:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity},
        "annotations": {"summary": summary},
    }


def prometheus_rule(spec: ServingSpec) -> dict:
    q, who = queries(spec), f"{spec.namespace}/{spec.name}"
    rules = [
        alert(
            "FmopsServingTTFTHigh",
            f"{q['ttft_p95']} > {TTFT_P95_SECONDS}",
            "10m",
            "warning",
            f"{who}: time to first token p95 above {TTFT_P95_SECONDS} s",
        ),
        alert(
            "FmopsServingErrorRate",
            f"{q['error_ratio']} > {ERROR_RATIO}",
            "5m",
            "critical",
            f"{who}: more than {ERROR_RATIO:.0%} of requests fail",
        ),
        alert(
            "FmopsServingQueueDepth",
            f"{q['waiting']} > {QUEUE_WAITING}",
            "5m",
            "warning",
            f"{who}: more than {QUEUE_WAITING} requests waiting (vllm:num_requests_waiting)",
        ),
        alert(
            "FmopsServingDown",
            f"{q['up']} < 1 or absent(up{{{selector(spec)}}})",
            "5m",
            "critical",
            f"{who}: no vLLM replica is scraped",
        ),
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": spec.metadata(),
        "spec": {"groups": [{"name": f"fmops-serving-{spec.name}", "rules": rules}]},
    }


PANELS = [  # (title, query names, unit)
    ("Time to first token", ["ttft_p50", "ttft_p95"], "s"),
    ("Inter-token latency p95", ["itl_p95"], "s"),
    ("Request latency p95", ["latency_p95"], "s"),
    ("Requests running / waiting", ["running", "waiting"], "short"),
    ("Generated tokens/s", ["generation_tokens_per_s"], "short"),
    ("Error ratio", ["error_ratio"], "percentunit"),
    ("KV cache usage", ["kv_cache_usage"], "percentunit"),
]


def dashboard(spec: ServingSpec) -> dict:
    """A Grafana dashboard model (schemaVersion 39): one time-series panel per PANELS entry."""
    q = queries(spec)
    panels = [
        {
            "id": index + 1,
            "type": "timeseries",
            "title": title,
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
            "datasource": {"type": "prometheus", "uid": "prometheus"},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [
                {"refId": chr(ord("A") + i), "expr": q[name], "legendFormat": name} for i, name in enumerate(names)
            ],
        }
        for index, (title, names, unit) in enumerate(PANELS)
    ]
    return {
        "title": f"fmops serving: {spec.name}",
        "uid": f"fmops-serving-{spec.name}"[:40],
        "schemaVersion": 39,
        "tags": ["fmops", "vllm"],
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "panels": panels,
    }


def dashboard_configmap(spec: ServingSpec) -> dict:
    metadata = spec.metadata(f"{spec.name}-dashboard")
    metadata["labels"] = {**metadata["labels"], "grafana_dashboard": "1"}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {f"fmops-serving-{spec.name}.json": json.dumps(dashboard(spec), indent=2, sort_keys=True)},
    }


def scaled_object(spec: ServingSpec) -> dict:
    """KEDA: scale the Deployment between replicas and max_replicas on vLLM's queue depth."""
    trigger = {
        "type": "prometheus",
        "metadata": {
            "serverAddress": spec.prometheus_url,
            "query": queries(spec)["waiting"],
            "threshold": str(spec.queue_per_replica),
        },
    }
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": spec.metadata(),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicaCount": spec.replicas,
            "maxReplicaCount": spec.max_replicas,
            "cooldownPeriod": 600,
            "triggers": [trigger],
        },
    }
