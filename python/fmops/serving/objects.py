"""Every object `fmops deploy --target cluster` applies for one model, in apply order: the Service, the
Gateway API and monitoring objects, the endpoint picker, and the workload (a Deployment, or a LeaderWorkerSet
for a model that needs several nodes per replica)."""

from __future__ import annotations

from fmops.serving import gateway, manifests, monitoring
from fmops.serving.leaderworkerset import leader_worker_set
from fmops.serving.review import annotated
from fmops.serving.spec import ServingSpec


def workload(spec: ServingSpec) -> dict:
    """The Deployment, or the LeaderWorkerSet of a model that needs several nodes per replica."""
    return leader_worker_set(spec) if spec.multi_node else manifests.deployment(spec)


def all_manifests(spec: ServingSpec) -> list[dict]:
    """Every object of a rollout, in apply order: the custom kinds first (a missing CRD fails the step before
    any pod changes), then the endpoint picker, and the workload last, once what routes to and watches it
    exists."""
    objects = [
        manifests.service(spec),
        gateway.inference_pool(spec),
        gateway.http_route(spec),
        monitoring.service_monitor(spec),
        monitoring.prometheus_rule(spec),
        monitoring.dashboard_configmap(spec),
    ]
    if spec.autoscaled:
        scaled = monitoring.scaled_object(spec)
        # The same trigger scales either workload kind (a LeaderWorkerSet has a scale subresource).
        target = {"apiVersion": workload_api_version(spec), "kind": spec.workload_kind, "name": spec.name}
        scaled["spec"]["scaleTargetRef"] = target
        objects.append(scaled)
    return deployments_reviewed([*objects, *gateway.endpoint_picker(spec), workload(spec)])


def deployments_reviewed(objects: list[dict]) -> list[dict]:
    return [annotated(obj) if obj["kind"] == "Deployment" else obj for obj in objects]


def workload_api_version(spec: ServingSpec) -> str:
    return "leaderworkerset.x-k8s.io/v1" if spec.multi_node else "apps/v1"
