"""Multi-node training as Kubeflow Trainer v2 TrainJobs queued by Kueue, read from what the repository renders
and commits: every TrainJob the templates create, the ClusterTrainingRuntime they run on, and Kueue's queues
validate against their upstream CRDs; the jobs are queued, suspended, bounded and waited on; the runtime
carries the image, torchrun, EFA, /dev/shm, one zone and do-not-disrupt; the queue's quotas are the pools'."""

from __future__ import annotations

import copy
import re

import kubernetes_validate
import pytest
import yaml
from fmops.argo.local.expressions import substitute
from fmops.argo.templates import common, trainjob
from fmops.cli import COMMANDS
from kubernetes.client import ApiClient, V1Condition

from tests.infra import crd_schemas
from tests.infra.conftest import argocd_documents
from tests.infra.workflow_docs import documents, spec_of, trainjobs

JOBS = trainjobs()
IDS = [f"{name}:{template['name']}" for name, template, _ in JOBS]
KUEUE_KINDS = {"ResourceFlavor", "ClusterQueue", "LocalQueue"}
COMMITTED = [(p, d) for p, d in argocd_documents() if crd_schemas.has_schema(d)]
SAMPLE = {
    "inputs.parameters.nodes": "2",
    "inputs.parameters.gpus-per-node": "8",
    "inputs.parameters.efa-per-node": "32",
    "inputs.parameters.image": "ghcr.io/fmops/fmops-train:0.1.0",
    "workflow.name": "run",
    "workflow.uid": "0f0e0d0c-0b0a-0908-0706-050403020100",
}


def concrete(template: dict, **values: str) -> dict:
    """The TrainJob a resource template creates, with sample values for its inputs."""
    manifest = template["resource"]["manifest"]
    names = {f"inputs.parameters.{n}" for n in re.findall(r"""inputs\.parameters\[["']([\w-]+)["']\]""", manifest)}
    variables = {name: "x" for name in names} | SAMPLE | values
    return yaml.safe_load(substitute(manifest, variables))


def objects(kind: str) -> list[dict]:
    return [doc for _, doc in argocd_documents() if doc["kind"] == kind]


def runtime() -> dict:
    (found,) = objects("ClusterTrainingRuntime")
    return found


def test_every_training_phase_has_a_trainjob():
    assert {name for name, _, _ in JOBS} == {"fmops-pretrain", "fmops-sft", "fmops-dpo"}


@pytest.mark.parametrize("name, template, job", JOBS, ids=IDS)
def test_trainjob_validates_against_its_crd(name, template, job):
    document = concrete(template)
    assert crd_schemas.errors(document) == []
    assert document["spec"]["trainer"]["numNodes"] == 2 and document["spec"]["trainer"]["numProcPerNode"] == 8
    # The CRD's CEL rule on the name, for the longest name generateName can give.
    generated = document["metadata"]["generateName"] + "x" * 5
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", generated) and len(generated) <= 63


@pytest.mark.parametrize("name, template, job", JOBS, ids=IDS)
def test_trainjob_is_queued_suspended_bounded_and_waited_on(name, template, job):
    document = concrete(template)
    local_queue = objects("LocalQueue")[0]["metadata"]["name"]
    assert document["metadata"]["labels"][trainjob.QUEUE_LABEL] == local_queue
    assert document["spec"]["suspend"] is True, "Kueue admits it"
    assert document["spec"]["runtimeRef"]["name"] == runtime()["metadata"]["name"]
    assert document["spec"]["activeDeadlineSeconds"] == template["activeDeadlineSeconds"]
    resource = template["resource"]
    assert resource["setOwnerReference"] is True, "deleted with its Workflow"
    assert resource["successCondition"] == "status.jobsStatus.0.succeeded > 0"
    assert resource["failureCondition"] == ", ".join(f"status.conditions.{i}.type == Failed" for i in range(3))
    assert template["retryStrategy"]["limit"], "a failed gang is retried as a new TrainJob"
    resources = document["spec"]["trainer"]["resourcesPerNode"]
    assert resources["requests"]["vpc.amazonaws.com/efa"] == resources["limits"]["vpc.amazonaws.com/efa"] == "32"
    assert resources["requests"]["cpu"] == "32" and resources["requests"]["memory"] == "256Gi"


# A requirement of a resource step's condition as Argo's executor reads it: a Kubernetes label-selector
# requirement whose key is a JSON path (gjson: dotted names and list indices) into the watched object.
REQUIREMENT = re.compile(r"^(?P<key>\S+) *(?P<op>==|!=|=|>|<) *(?P<value>\S+)$")
LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


def requirements(condition: str) -> list[bool]:
    """Parse every comma-separated requirement; its key must be a label key, or Argo refuses the condition."""
    parsed = [REQUIREMENT.match(part.strip()) for part in condition.split(",")]
    assert all(parsed), condition
    assert all(LABEL_NAME.fullmatch(m["key"]) for m in parsed), condition
    return parsed


def holds(requirement: re.Match, obj: dict) -> bool:
    value = obj
    for part in requirement["key"].split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return requirement["op"] == "!="
    text = str(value)
    if requirement["op"] in (">", "<"):
        return (
            text.lstrip("-").isdigit()
            and (int(text) - int(requirement["value"])) * (1 if requirement["op"] == ">" else -1) > 0
        )
    return (text == requirement["value"]) is (requirement["op"] != "!=")


def verdict(resource: dict, status: dict) -> str:
    """Argo's order: any failure requirement fails the step; success needs every success requirement."""
    obj = {"status": status}
    if any(holds(r, obj) for r in requirements(resource["failureCondition"])):
        return "failed"
    if all(holds(r, obj) for r in requirements(resource["successCondition"])):
        return "succeeded"
    return "waiting"


def conditions(*pairs: tuple[str, str]) -> list[dict]:
    when = "2026-01-01T00:00:00Z"
    return [
        ApiClient().sanitize_for_serialization(
            V1Condition(
                type=kind,
                status="True" if kind != "Suspended" or reason == "Suspended" else "False",
                reason=reason,
                message="m",
                last_transition_time=when,
            )
        )
        for kind, reason in pairs
    ]


NODE_JOB = {"name": "node", "active": 0, "ready": 0, "succeeded": 0, "failed": 0, "suspended": 0}
STATES = [
    ({}, "waiting"),
    ({"conditions": conditions(("Suspended", "Suspended"))}, "waiting"),
    ({"conditions": conditions(("Suspended", "Resumed")), "jobsStatus": [{**NODE_JOB, "active": 1}]}, "waiting"),
    (
        {
            "conditions": conditions(("Suspended", "Resumed"), ("Failed", "FailedJobs")),
            "jobsStatus": [{**NODE_JOB, "failed": 1}],
        },
        "failed",
    ),
    ({"conditions": conditions(("Failed", "TrainingRuntimeNotSupported"), ("Suspended", "Suspended"))}, "failed"),
    ({"conditions": conditions(("Suspended", "Resumed"), ("Failed", "DeadlineExceeded"))}, "failed"),
    (
        {
            "conditions": conditions(("Suspended", "Resumed"), ("Complete", "AllJobsCompleted")),
            "jobsStatus": [{**NODE_JOB, "succeeded": 1}],
        },
        "succeeded",
    ),
]


@pytest.mark.parametrize("status, expected", STATES, ids=[expected + str(i) for i, (_, expected) in enumerate(STATES)])
def test_the_step_fails_on_the_trainjobs_failed_condition_wherever_it_stands(status, expected):
    (_, template, _) = JOBS[0]
    written = {"status": status} if status else {}  # a TrainJob Trainer has not reconciled has no status
    assert crd_schemas.errors({**concrete(template), **written}) == [], "a status Trainer v2.3.0 can write"
    assert verdict(template["resource"], status) == expected


@pytest.mark.parametrize("name, template, job", JOBS, ids=IDS)
def test_a_failed_trainjob_step_is_followed_by_the_step_that_says_why(name, template, job):
    """The stage's multi-node task runs a DAG: the TrainJob step, then (only when it failed or errored) the
    step that reads its Failed condition as fmops-trainjob-reader and fails with it; the task's exit hook
    deletes the run's TrainJobs after both."""
    (doc,) = [d for _, d in documents() if d["metadata"]["name"] == name]
    templates = {t["name"]: t for t in spec_of(doc)["templates"]}
    (outer,) = [
        task
        for t in templates.values()
        for task in (t.get("dag") or {}).get("tasks", [])
        if task["name"] == "train-distributed"
    ]
    assert outer["hooks"] == {"exit": {"template": "delete-trainjob"}}
    tasks = {task["name"]: task for task in templates[outer["template"]]["dag"]["tasks"]}
    assert set(tasks) == {"trainjob", "trainjob-failure"} and tasks["trainjob"]["template"] == template["name"]
    assert tasks["trainjob-failure"]["depends"] == "trainjob.Failed || trainjob.Errored"
    reader = templates[tasks["trainjob-failure"]["template"]]
    selector = "=".join(next(iter(job["metadata"]["labels"].items())))
    assert reader["container"]["command"] == ["fmops"]
    assert reader["container"]["args"] == [
        "trainjob-failure",
        "--namespace",
        job["metadata"]["namespace"],
        "--selector",
        selector,
    ]
    assert "trainjob-failure" in COMMANDS
    assert reader["container"]["terminationMessagePolicy"] == "FallbackToLogsOnError", "its line is the node's message"
    assert (reader["serviceAccountName"], reader["automountServiceAccountToken"]) == ("fmops-trainjob-reader", True)


def test_the_conditions_read_the_runtimes_only_job():
    """jobsStatus lists the runtime's replicated jobs in order: index 0 is the node job only while it is alone."""
    replicated = runtime()["spec"]["template"]["spec"]["replicatedJobs"]
    assert [job["name"] for job in replicated] == [trainjob.NODE_JOB]
    assert runtime()["spec"]["template"]["spec"]["failurePolicy"] == {"maxRestarts": 0}


def test_runtime_carries_image_torchrun_efa_shm_zone_and_do_not_disrupt():
    (job,) = runtime()["spec"]["template"]["spec"]["replicatedJobs"]
    pod = job["template"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["image"] == common.TRAIN_IMAGE and container["command"] == ["torchrun"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["FI_PROVIDER"] == "efa" and env["FI_EFA_USE_DEVICE_RDMA"] == "1" and "NET" in env["NCCL_DEBUG_SUBSYS"]
    assert container["resources"]["limits"]["vpc.amazonaws.com/efa"] == "32"
    assert pod["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
    shm = {v["name"] for v in pod["spec"]["volumes"] if v.get("emptyDir", {}).get("medium") == "Memory"}
    assert any(m["mountPath"] == "/dev/shm" and m["name"] in shm for m in container["volumeMounts"])
    (term,) = pod["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "topology.kubernetes.io/zone"
    assert term["matchLabelKeys"] == [trainjob.JOBSET_NAME], "the pods of one job, not of every job"
    assert pod["spec"]["nodeSelector"] == {"karpenter.sh/nodepool": "gpu-train"}
    template = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "node"}, "template": pod}
    kubernetes_validate.validate(template, "1.33", strict=True)


def test_committed_objects_validate_against_their_crds():
    kinds = {doc["kind"] for _, doc in COMMITTED}
    assert kinds >= {"ClusterTrainingRuntime"} | KUEUE_KINDS
    for path, document in COMMITTED:
        assert crd_schemas.errors(document) == [], path


def pool_gpus() -> dict[str, int]:
    return {
        d["metadata"]["name"]: int(d["spec"]["limits"]["nvidia.com/gpu"])
        for d in objects("NodePool")
        if "nvidia.com/gpu" in d["spec"].get("limits", {})
    }


def test_a_flavor_per_gpu_pool_and_the_queue_quotas_are_the_pools_limits():
    flavors = {d["metadata"]["name"]: d for d in objects("ResourceFlavor")}
    pools = pool_gpus()
    assert set(flavors) == set(pools)
    for name, flavor in flavors.items():
        assert flavor["spec"]["nodeLabels"] == {"karpenter.sh/nodepool": name}
    (queue,) = objects("ClusterQueue")
    (group,) = queue["spec"]["resourceGroups"]
    for flavor in group["flavors"]:
        quota = {r["name"]: str(r["nominalQuota"]) for r in flavor["resources"]}
        gpus = pools[flavor["name"]]
        nodes_with_efa = gpus // 8 if flavor["name"] == "gpu-train" else 0
        assert quota == {
            "nvidia.com/gpu": str(gpus),
            "vpc.amazonaws.com/efa": str(32 * nodes_with_efa),
            "cpu": str(common.CPU_PER_GPU * gpus),
            "memory": f"{common.MEMORY_PER_GPU * gpus}Gi",
        }, flavor["name"]
    assert {f["name"] for f in group["flavors"]} == {"gpu-train", "gpu-train-small"}
    (local,) = objects("LocalQueue")
    assert (
        local["metadata"]["namespace"] == common.NAMESPACE
        and local["spec"]["clusterQueue"] == queue["metadata"]["name"]
    )


def test_the_schema_check_refuses_a_typo():
    (_, template, _) = JOBS[0]
    document = concrete(template)
    broken = copy.deepcopy(document)
    broken["spec"]["trainer"]["numNode"] = broken["spec"]["trainer"].pop("numNodes")
    assert any("numNode" in e for e in crd_schemas.errors(broken))
    broken = copy.deepcopy(runtime())
    broken["spec"]["template"]["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["nodeSelecter"] = {}
    assert crd_schemas.errors(broken)


HOSTILE = "x\"\n      command: [sh]\n      evil: 'y"


@pytest.mark.parametrize("name, template, job", JOBS, ids=IDS)
def test_a_hostile_value_stays_one_argument(name, template, job):
    document = concrete(template, **{"inputs.parameters.model": HOSTILE})
    trainer = document["spec"]["trainer"]
    assert trainer["command"] == ["fmops"] and "evil" not in trainer
    assert trainer["args"][trainer["args"].index("--model") + 1] == HOSTILE
