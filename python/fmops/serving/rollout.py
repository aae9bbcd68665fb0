"""Roll a serving spec out with the kubernetes client: server-side apply, wait with a deadline, roll back.

Apply is server-side (`application/apply-patch+yaml`, field manager `fmops-deploy`, force): the API server
merges, so re-running a deploy is idempotent and fields other managers own (the HPA's replicas) stay theirs.
Ready means what `kubectl rollout status` means: the workload's (Deployment's or LeaderWorkerSet's) newest
generation is observed and all its replicas are updated and available (ready, for a LeaderWorkerSet: every
pod of the group). When that does not happen by the deadline, the reason comes from the pods (a waiting
container's reason and message, or why the pod is not scheduled).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

FIELD_MANAGER = "fmops-deploy"
APPLY = "application/apply-patch+yaml"
# kind -> (group, version, plural) for the custom resources fmops applies.
CUSTOM_KINDS = {
    "ServiceMonitor": ("monitoring.coreos.com", "v1", "servicemonitors"),
    "PrometheusRule": ("monitoring.coreos.com", "v1", "prometheusrules"),
    "ScaledObject": ("keda.sh", "v1alpha1", "scaledobjects"),
    "InferencePool": ("inference.networking.k8s.io", "v1", "inferencepools"),
    "HTTPRoute": ("gateway.networking.k8s.io", "v1", "httproutes"),
    "LeaderWorkerSet": ("leaderworkerset.x-k8s.io", "v1", "leaderworkersets"),
}
WORKLOAD_API = {"Deployment": "apps/v1", "LeaderWorkerSet": "leaderworkerset.x-k8s.io/v1"}


class ApplyFailed(RuntimeError):
    """The API server refused an object (a missing CRD, RBAC, validation): kind/name and its message."""


class RolloutFailed(RuntimeError):
    """The workload did not become ready; the message carries the pods' reason."""


@dataclass
class Cluster:
    """The few API calls a rollout needs, on one namespace."""

    api: Any
    namespace: str

    def __post_init__(self) -> None:
        from kubernetes import client

        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def apply(self, body: dict) -> None:
        """Server-side apply one object; ApplyFailed with the API server's message when it is refused."""
        import json

        from kubernetes.client.exceptions import ApiException

        try:
            self._apply(body)
        except ApiException as error:
            try:
                message = json.loads(error.body or "{}").get("message") or error.reason
            except json.JSONDecodeError:
                message = error.reason
            hint = " (is its CustomResourceDefinition installed?)" if error.status == 404 else ""
            raise ApplyFailed(
                f"apply {body['kind']}/{body['metadata']['name']}: HTTP {error.status}: {message}{hint}"
            ) from None

    def _apply(self, body: dict) -> None:
        kind, name = body["kind"], body["metadata"]["name"]
        options = {"field_manager": FIELD_MANAGER, "force": True, "_content_type": APPLY}
        if kind == "Deployment":
            self.apps.patch_namespaced_deployment(name, self.namespace, body, **options)
        elif kind == "Service":
            self.core.patch_namespaced_service(name, self.namespace, body, **options)
        elif kind == "ConfigMap":
            self.core.patch_namespaced_config_map(name, self.namespace, body, **options)
        elif kind in CUSTOM_KINDS:
            group, version, plural = CUSTOM_KINDS[kind]
            self.custom.patch_namespaced_custom_object(group, version, self.namespace, plural, name, body, **options)
        else:
            raise ValueError(f"fmops does not apply kind {kind}")

    def read_workload(self, name: str, kind: str = "Deployment") -> dict | None:
        """The Deployment or LeaderWorkerSet as a plain dict, or None when there is none."""
        from kubernetes.client.exceptions import ApiException

        try:
            if kind == "Deployment":
                found = self.apps.read_namespaced_deployment(name, self.namespace)
            else:
                group, version, plural = CUSTOM_KINDS[kind]
                found = self.custom.get_namespaced_custom_object(group, version, self.namespace, plural, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return self.api.sanitize_for_serialization(found)

    def read_deployment(self, name: str) -> dict | None:
        return self.read_workload(name, "Deployment")

    def delete_workload(self, name: str, kind: str = "Deployment") -> None:
        if kind == "Deployment":
            self.apps.delete_namespaced_deployment(name, self.namespace)
        else:
            group, version, plural = CUSTOM_KINDS[kind]
            self.custom.delete_namespaced_custom_object(group, version, self.namespace, plural, name)

    def delete_deployment(self, name: str) -> None:
        self.delete_workload(name, "Deployment")

    def restore(self, name: str, previous: dict | None, kind: str = "Deployment") -> str:
        """Put the previous workload back (its spec, re-applied), or remove the new one if there was none."""
        if previous is None:
            self.delete_workload(name, kind)
            return f"deleted the new {kind} (there was no previous one)"
        self.apply(reapplicable(previous, kind))
        version = previous["metadata"].get("labels", {}).get("fmops.dev/model-version", "unknown")
        return f"re-applied the previous {kind} spec (model version {version})"

    def wait_ready(self, name: str, deadline_s: float, poll_s: float = 2.0, kind: str = "Deployment") -> float:
        """Seconds until the rollout is complete; RolloutFailed with the pods' reason at the deadline."""
        started = time.monotonic()
        complete = rollout_complete if kind == "Deployment" else group_rollout_complete
        while True:
            workload = self.read_workload(name, kind)
            if workload and complete(workload):
                return time.monotonic() - started
            if workload and (stalled := progress_deadline_exceeded(workload)):
                raise RolloutFailed(f"{kind} {name}: {stalled}; {self.pod_reason(name)}")
            if time.monotonic() - started > deadline_s:
                raise RolloutFailed(f"{kind} {name} not ready after {deadline_s:.0f} s: {self.pod_reason(name)}")
            time.sleep(poll_s)

    def pod_reason(self, name: str) -> str:
        """Why the rollout's pods are not ready, from the newest pod that is not."""
        selector = f"app.kubernetes.io/instance={name}"
        pods = self.api.sanitize_for_serialization(
            self.core.list_namespaced_pod(self.namespace, label_selector=selector)
        ).get("items", [])
        waiting = [pod for pod in pods if not pod_ready(pod)]
        if not waiting:
            return "no pod was created (quota, admission or scheduling: see the ReplicaSet's events)"
        newest = max(waiting, key=lambda pod: pod["metadata"].get("creationTimestamp") or "")
        return f"pod {newest['metadata']['name']}: {describe_pod(newest)}"


def rollout_complete(deployment: dict) -> bool:
    spec, status = deployment.get("spec", {}), deployment.get("status") or {}
    wanted = spec.get("replicas", 1)
    return (
        status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
        and status.get("updatedReplicas", 0) >= wanted
        and status.get("availableReplicas", 0) >= wanted
        and status.get("replicas", 0) <= status.get("updatedReplicas", 0)
    )


def group_rollout_complete(lws: dict) -> bool:
    """A LeaderWorkerSet whose newest generation is observed and whose every group is updated and ready."""
    spec, status = lws.get("spec", {}), lws.get("status") or {}
    wanted = spec.get("replicas", 1)
    return (
        status.get("observedGeneration", 0) >= lws["metadata"].get("generation", 0)
        and status.get("updatedReplicas", 0) >= wanted
        and status.get("readyReplicas", 0) >= wanted
        and status.get("replicas", 0) <= status.get("updatedReplicas", 0)
    )


def progress_deadline_exceeded(deployment: dict) -> str | None:
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return condition.get("message") or "progress deadline exceeded"
    return None


def pod_ready(pod: dict) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def describe_pod(pod: dict) -> str:
    """The most telling reason a pod is not ready: a container's waiting/terminated state, else a condition."""
    status = pod.get("status") or {}
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = container.get("state") or {}
        for phase in ("waiting", "terminated"):
            if detail := state.get(phase):
                if detail.get("reason") in (None, "PodInitializing", "ContainerCreating", "Completed"):
                    continue
                message = f": {detail['message']}" if detail.get("message") else ""
                return f"container {container['name']} {phase}: {detail['reason']}{message}"
    for condition in status.get("conditions") or []:
        if condition.get("status") == "False" and condition.get("reason"):
            return f"{condition['type']}=False: {condition['reason']}: {condition.get('message', '')}".rstrip(": ")
    return f"phase {status.get('phase', 'unknown')}, not ready"


def reapplicable(previous: dict, kind: str = "Deployment") -> dict:
    """A workload read from the API, reduced to what one applies: no status, no server-set metadata."""
    metadata = previous["metadata"]
    kept = {key: metadata[key] for key in ("name", "namespace", "labels", "annotations") if metadata.get(key)}
    annotations = {k: v for k, v in kept.get("annotations", {}).items() if k != "deployment.kubernetes.io/revision"}
    if annotations:
        kept["annotations"] = annotations
    else:
        kept.pop("annotations", None)
    return {"apiVersion": WORKLOAD_API[kind], "kind": kind, "metadata": kept, "spec": previous["spec"]}
