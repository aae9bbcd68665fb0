"""The fields of the kinds fmops writes that have no schema at hand here (no CRD in ../shared/schemas):
Kubeflow's PyTorchJob, prometheus-operator's ServiceMonitor and
PrometheusRule, KEDA's ScaledObject. Each shape lists the fields of its upstream CRD that a manifest may
set (a set: the allowed values; None: anything), so a misspelled or misplaced field fails a test instead
of being pruned by the API server. Pod templates inside them are validated by kubernetes-validate."""

from __future__ import annotations

from typing import Any

METADATA = {"name": None, "generateName": None, "namespace": None, "labels": None, "annotations": None}
SELECTOR = {"matchLabels": None, "matchExpressions": None}
REQUIREMENT = {
    "key": None,
    "operator": {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"},
    "values": None,
    "minValues": None,
}
TAINT = {"key": None, "value": None, "effect": {"NoSchedule", "PreferNoSchedule", "NoExecute"}}
POD_TEMPLATE = None  # validated as a core PodTemplate
REPLICA = {"replicas": None, "restartPolicy": {"Always", "OnFailure", "Never", "ExitCode"}, "template": POD_TEMPLATE}

SHAPES: dict[str, dict[str, Any]] = {
    "PyTorchJob": {
        "spec": {
            "runPolicy": {
                "cleanPodPolicy": {"None", "All", "Running"},
                "ttlSecondsAfterFinished": None,
                "activeDeadlineSeconds": None,
                "backoffLimit": None,
                "schedulingPolicy": None,
                "suspend": None,
                "managedBy": None,
            },
            "pytorchReplicaSpecs": {"Master": REPLICA, "Worker": REPLICA},
            "elasticPolicy": None,
            "nprocPerNode": None,
        }
    },
    "ServiceMonitor": {
        "spec": {
            "selector": SELECTOR,
            "namespaceSelector": {"matchNames": None, "any": None},
            "jobLabel": None,
            "targetLabels": None,
            "podTargetLabels": None,
            "sampleLimit": None,
            "endpoints": [
                {
                    "port": None,
                    "targetPort": None,
                    "path": None,
                    "scheme": None,
                    "interval": None,
                    "scrapeTimeout": None,
                    "honorLabels": None,
                    "params": None,
                    "relabelings": None,
                    "metricRelabelings": None,
                    "authorization": None,
                    "bearerTokenSecret": None,
                    "tlsConfig": None,
                }
            ],
        }
    },
    "PrometheusRule": {
        "spec": {
            "groups": [
                {
                    "name": None,
                    "interval": None,
                    "limit": None,
                    "rules": [
                        {
                            "alert": None,
                            "record": None,
                            "expr": None,
                            "for": None,
                            "keep_firing_for": None,
                            "labels": None,
                            "annotations": None,
                        }
                    ],
                }
            ]
        }
    },
    "ScaledObject": {
        "spec": {
            "scaleTargetRef": {"apiVersion": None, "kind": None, "name": None, "envSourceContainerName": None},
            "pollingInterval": None,
            "cooldownPeriod": None,
            "idleReplicaCount": None,
            "minReplicaCount": None,
            "maxReplicaCount": None,
            "fallback": None,
            "advanced": None,
            "triggers": [
                {
                    "type": None,
                    "name": None,
                    "metadata": None,
                    "authenticationRef": None,
                    "metricType": None,
                    "useCachedMetrics": None,
                }
            ],
        }
    },
}


def shape_errors(value: Any, shape: Any, path: str = "") -> list[str]:
    """Where `value` leaves `shape`: unknown fields, values outside an allowed set, wrong containers."""
    if shape is None:
        return []
    if isinstance(shape, set):
        return [] if value in shape else [f"{path}: {value!r} is not one of {sorted(shape)}"]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [e for i, item in enumerate(value) for e in shape_errors(item, shape[0], f"{path}[{i}]")]
    if not isinstance(value, dict):
        return [f"{path}: expected a mapping"]
    errors = [f"{path}.{key}: unknown field" for key in value if key not in shape]
    return errors + [
        e for key, item in value.items() if key in shape for e in shape_errors(item, shape[key], f"{path}.{key}")
    ]


def document_errors(document: dict[str, Any]) -> list[str]:
    shape = {"apiVersion": None, "kind": None, "metadata": METADATA, **SHAPES[document["kind"]]}
    return shape_errors(document, shape, document["kind"])
