"""Every pod spec fmops generates passes the PodSecurity level of the namespace it lands in: the workflow
steps (with the workflow's security context and Argo's executor sidecar), the PyTorchJob replicas, and the
vLLM Deployment of the deploy step; levels are those Terraform and Argo CD give the namespaces."""

from __future__ import annotations

import copy

import pytest
import yaml
from fmops.serving import manifests
from fmops.serving.spec import ServingSpec

from tests.infra.conftest import ARGOCD, argocd_documents
from tests.infra.namespaces import argocd_levels, terraform_levels
from tests.infra.pod_security import violations
from tests.infra.workflow_docs import documents, job_pods, pytorchjobs, spec_of

EXECUTOR = yaml.safe_load((ARGOCD / "addons" / "argo-workflows" / "values.yaml").read_text())["executor"]


def step_pods() -> list[tuple[str, str, dict]]:
    """(namespace, id, pod spec) of every container step, as Argo builds its pod: the workflow's (or the
    template's) securityContext, the template's volumes, the main container and the executor's wait container."""
    found = []
    for _, doc in documents():
        spec = spec_of(doc)
        for template in spec.get("templates") or []:
            container = template.get("container") or template.get("script")
            if container is None:
                continue
            pod = {
                "securityContext": template.get("securityContext", spec.get("securityContext")),
                "volumes": template.get("volumes", []),
                "containers": [
                    {"name": "main", **container},
                    {"name": "wait", "securityContext": EXECUTOR["securityContext"]},
                ],
            }
            found.append((doc["metadata"]["namespace"], f"{doc['metadata']['name']}:{template['name']}", pod))
    return found


def job_replica_pods() -> list[tuple[str, str, dict]]:
    return [
        (job["metadata"]["namespace"], f"{name}:{template['name']}:{i}", pod["spec"])
        for name, template, job in pytorchjobs()
        for i, pod in enumerate(job_pods(job))
    ]


def serving_pods() -> list[tuple[str, str, dict]]:
    spec = ServingSpec(name="demo", model_uri="s3://bucket/models/demo/1", version="1", max_replicas=3)
    deployment = manifests.deployment(spec)
    return [(deployment["metadata"]["namespace"], "deploy:vllm", deployment["spec"]["template"]["spec"])]


def trainjob_pods() -> list[tuple[str, str, dict]]:
    """The pods of every TrainJob: the ClusterTrainingRuntime's node pod (in the namespace of the jobs)."""
    runtimes = [doc for _, doc in argocd_documents() if doc["kind"] == "ClusterTrainingRuntime"]
    return [
        ("fmops", f"runtime:{doc['metadata']['name']}:{job['name']}", job["template"]["spec"]["template"]["spec"])
        for doc in runtimes
        for job in doc["spec"]["template"]["spec"]["replicatedJobs"]
    ]


PODS = step_pods() + job_replica_pods() + trainjob_pods() + serving_pods()


def levels() -> dict[str, str]:
    return terraform_levels() | argocd_levels()


def test_pods_of_every_kind_are_checked():
    ids = [pod_id for _, pod_id, _ in PODS]
    assert any(i.startswith("fmops-pipeline:") for i in ids) and any(":train-pytorchjob:" in i for i in ids)
    assert "runtime:fmops-torch:node" in ids
    assert "deploy:vllm" in ids and len(ids) > 20


@pytest.mark.parametrize("namespace, pod_id, pod", PODS, ids=[pod_id for _, pod_id, _ in PODS])
def test_pod_passes_its_namespace_level(namespace, pod_id, pod):
    level = levels()[namespace]
    assert violations(pod, level) == [], f"{pod_id} in {namespace} ({level})"


STEP_PODS = step_pods()


@pytest.mark.parametrize("namespace, pod_id, pod", STEP_PODS, ids=[pod_id for _, pod_id, _ in STEP_PODS])
def test_every_step_pod_is_restricted(namespace, pod_id, pod):
    """Each container template's pod, executor included, meets `restricted`, whatever the namespace enforces."""
    assert violations(pod, "restricted") == [], pod_id


def test_the_check_refuses_a_host_daemon_outside_privileged():
    """node-exporter's shape: refused at baseline, admitted only where the namespace is privileged."""
    exporter = {
        "hostNetwork": True,
        "hostPID": True,
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
        "containers": [{"name": "node-exporter", "ports": [{"containerPort": 9100, "hostPort": 9100}]}],
    }
    assert len(violations(exporter, "baseline")) == 4
    assert violations(exporter, levels()["monitoring"]) == []
    step = copy.deepcopy(next(pod for _, pod_id, pod in PODS if pod_id.endswith(":train")))
    step["containers"][0]["securityContext"] = {"privileged": True}
    assert violations(step, "baseline") == ["main: privileged"]
    assert "main: privileged" in violations(step, levels()["fmops"])
    assert "main: allowPrivilegeEscalation is not false" in violations(step, "restricted")
