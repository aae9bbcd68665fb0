"""Multi-node jobs that really use EFA and GPU jobs that never outlive their step, read from the rendered
workflows/: every PyTorchJob requests EFA, sets the EFA and NCCL environment, keeps its pods in one zone,
is bounded by the step's deadline and cleaned up after; training pods are not disrupted by Karpenter; a
step below 8 GPUs lands on the small training pool; GPU steps on the spot pool retry."""

from __future__ import annotations

import pytest
from fmops.argo.local.expressions import substitute

from tests.infra.conftest import argocd_documents
from tests.infra.workflow_docs import job_pods, pytorchjobs, spec_of, templates

JOBS = pytorchjobs()
IDS = [f"{name}:{template['name']}" for name, template, _ in JOBS]
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
EFA = "vpc.amazonaws.com/efa"


def pool_capacity() -> dict[str, set[str]]:
    found = {}
    for _, doc in argocd_documents():
        if doc["kind"] == "NodePool":
            requirements = {r["key"]: set(r["values"]) for r in doc["spec"]["template"]["spec"]["requirements"]}
            found[doc["metadata"]["name"]] = requirements["karpenter.sh/capacity-type"]
    return found


def test_there_are_jobs_to_check():
    assert {name for name, _, _ in JOBS} == {"fmops-pretrain", "fmops-sft", "fmops-dpo", "fmops-validate-cluster"}


@pytest.mark.parametrize("name, template, job", JOBS, ids=IDS)
def test_job_lifecycle_is_bounded_by_its_step(name, template, job):
    policy = job["spec"]["runPolicy"]
    assert policy["activeDeadlineSeconds"] == template["activeDeadlineSeconds"], "the job must stop with its step"
    assert 0 < policy["ttlSecondsAfterFinished"] <= 24 * 3600
    assert policy["cleanPodPolicy"] == "All"
    assert template["resource"]["setOwnerReference"] is True, "deleted with its Workflow"


@pytest.mark.parametrize("name, template, job", JOBS, ids=IDS)
def test_job_pods_request_resources_and_efa(name, template, job):
    for pod in job_pods(job):
        (container,) = pod["spec"]["containers"]
        requests, limits = container["resources"]["requests"], container["resources"]["limits"]
        assert {"cpu", "memory", "nvidia.com/gpu", EFA} <= set(requests), requests
        variables = {"inputs.parameters.gpus-per-node": "8", "inputs.parameters.efa-per-node": "32"}
        assert substitute(requests[EFA], variables) == substitute(limits[EFA], variables) == "32"
        assert substitute(requests["nvidia.com/gpu"], variables) == substitute(limits["nvidia.com/gpu"], variables)
        assert substitute(requests["cpu"], variables) == "32" and substitute(requests["memory"], variables) == "256Gi"
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["FI_PROVIDER"] == "efa" and env["FI_EFA_USE_DEVICE_RDMA"] == "1"
        assert env["NCCL_DEBUG"] == "INFO" and "NET" in env["NCCL_DEBUG_SUBSYS"], "the log must name the transport"


@pytest.mark.parametrize("name, template, job", JOBS, ids=IDS)
def test_job_pods_share_one_zone_and_are_not_disrupted(name, template, job):
    for pod in job_pods(job):
        assert pod["metadata"]["annotations"][DO_NOT_DISRUPT] == "true"
        (term,) = pod["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "topology.kubernetes.io/zone"
        selector = term["labelSelector"]["matchLabels"]
        assert selector and selector.items() <= pod["metadata"]["labels"].items(), "the pods must match each other"
        assert "{{workflow.uid}}" in next(iter(selector.values())), "unique to this run"


def test_training_steps_are_not_disrupted_and_pick_their_pool():
    pools = pool_capacity()
    trains = [
        (name, t)
        for name, t in templates()
        if (t.get("metadata") or {}).get("labels", {}).get("fmops.io/step-kind") == "training" and "container" in t
    ]
    assert {name for name, _ in trains} == {"fmops-pretrain", "fmops-sft", "fmops-dpo"}
    for name, template in trains:
        assert template["metadata"]["annotations"][DO_NOT_DISRUPT] == "true", name
        selector = template["nodeSelector"]["karpenter.sh/nodepool"]
        chosen = {gpus: substitute(selector, {"inputs.parameters.gpus-per-node": gpus}) for gpus in ("1", "4", "8")}
        assert chosen == {"1": "gpu-train-small", "4": "gpu-train-small", "8": "gpu-train"}, name
        assert set(chosen.values()) <= set(pools), "a pool the cluster has"


def test_gpu_steps_on_spot_pools_retry():
    spot = {name for name, capacity in pool_capacity().items() if "spot" in capacity}
    checked = []
    for name, template in templates():
        pool = (template.get("nodeSelector") or {}).get("karpenter.sh/nodepool", "")
        if pool in spot and "nvidia.com/gpu" in str(template.get("container", {}).get("resources")):
            if name == "fmops-validate-cluster":
                continue  # nvidia-smi: a check run by hand, its failure is the answer
            checked.append(f"{name}:{template['name']}")
            assert (template.get("retryStrategy") or {}).get("limit"), f"{name}:{template['name']} has no retries"
    assert "fmops-evaluate:evaluate" in checked


def scaling_callers() -> list[tuple[str, dict]]:
    """Entry documents with a `nodes` argument: everything that can run a training phase on several nodes."""
    from tests.infra.workflow_docs import documents

    found = []
    for _, doc in documents():
        arguments = (spec_of(doc).get("arguments") or {}).get("parameters", [])
        if any(p["name"] == "nodes" for p in arguments):
            found.append((doc["metadata"]["name"], doc))
    return found


def test_every_multi_node_template_passes_efa_per_node():
    callers = dict(scaling_callers())
    assert set(callers) >= {"fmops-pipeline", "fmops-continuous-pretrain", "fmops-pretrain", "fmops-sft", "fmops-dpo"}
    for name, doc in callers.items():
        arguments = {p["name"] for p in spec_of(doc)["arguments"]["parameters"]}
        assert "efa-per-node" in arguments, f"{name}: multi-node without EFA"
        for template in spec_of(doc)["templates"]:
            for task in (template.get("dag") or {}).get("tasks", []):
                passed = {p["name"] for p in (task.get("arguments") or {}).get("parameters", [])}
                if "nodes" in passed:
                    assert "efa-per-node" in passed, f"{name}: task {task['name']} passes nodes but not efa-per-node"


def test_validate_cluster_fails_below_a_bandwidth_floor():
    (_, template, job) = next(item for item in JOBS if item[0] == "fmops-validate-cluster")
    (container,) = job_pods(job)[0]["spec"]["containers"]
    command = [*container["command"], *container["args"]]
    floor_value = command[command.index("--min-busbw-gbps") + 1]
    assert substitute(floor_value, {"inputs.parameters.min-busbw-gbps": "100"}) == '"100"', "a JSON string"
    from tests.infra.workflow_docs import documents

    (doc,) = [d for _, d in documents() if d["metadata"]["name"] == "fmops-validate-cluster"]
    floor = {p["name"]: p for p in spec_of(doc)["arguments"]["parameters"]}["min-busbw-gbps"]
    assert float(floor["value"]) > 0
    assert "p5.48xlarge" in floor["description"] and "p4d.24xlarge" in floor["description"]


def test_allreduce_raises_below_its_floor():
    """The step's own check, before any process group starts: a negative floor is bad input."""
    from fmops.core.errors import InputError
    from fmops.steps.allreduce import allreduce

    with pytest.raises(InputError, match="--min-busbw-gbps"):
        allreduce(min_busbw_gbps=-1)
