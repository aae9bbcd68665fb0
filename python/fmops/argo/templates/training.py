"""The templates a training phase's DAG (pretrain.py, sft.py, dpo.py) is made of:

train              one pod, `fmops launch` with one process per GPU (nodes == 1)
train-distributed  a Kubeflow Trainer v2 TrainJob of `nodes` pods, queued by Kueue (nodes > 1; trainjob.py):
                   a DAG of `trainjob` and, when that failed, `trainjob-failure` (fails with the job's reason)
train-pytorchjob   the same as a Training Operator v1 PyTorchJob (nodes > 1 and job-kind=pytorchjob)
delete-trainjob    the exit hooks of the two: a job never outlives its step
delete-pytorchjob
collect            checks the output is complete (manifest.json) and exposes metrics to the Argo UI
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import yaml
from hera.workflows import Artifact, Container, Parameter, Resource
from hera.workflows.models import LifecycleHook

from fmops.argo.templates import common
from fmops.argo.templates.common import RESULTS_DIR, STEP_KIND, TRAIN_IMAGE, param

PYTORCHJOB_API = "kubeflow.org/v1"
SCALING = ("nodes", "gpus-per-node", "efa-per-node", "strategy", "job-kind")
WORKERS = "{{=asInt(inputs.parameters.nodes) - 1}}"
EFA = "{{inputs.parameters.efa-per-node}}"
PARAMETER_TAG = re.compile(r"\{\{inputs\.parameters\.([A-Za-z0-9_-]+)\}\}")
# Literal text a manifest value may join to a parameter: nothing an expression or Argo's ternary check reads.
PLAIN_LITERAL = re.compile(r"[A-Za-z0-9=_./,@+-]*")
EFA_HELP = "EFA interfaces per node of a multi-node run (p5: 32, p5en: 16, p4d: 4); 0 sends NCCL over TCP"
# The `when` of the two training tasks: exactly one of them runs.
ONE_NODE = "{{inputs.parameters.nodes}} == 1"
SEVERAL_NODES = "{{inputs.parameters.nodes}} > 1"


def scaling_params() -> list[Parameter]:
    return [
        param("nodes", "nodes to train on; above 1 the step becomes a Kubeflow job (see job-kind)", "1"),
        param("gpus-per-node", "GPUs (and processes) per node", "1"),
        param("efa-per-node", EFA_HELP, "32"),
        param(
            "strategy",
            "how processes share the model: ddp (fits one GPU), fsdp2 or zero3 (sharded)",
            "ddp",
            enum=["ddp", "fsdp2", "zero3"],
        ),
        param(
            "job-kind",
            "the job of a multi-node run: trainjob (Kubeflow Trainer v2, queued by Kueue) or pytorchjob "
            "(Training Operator v1, for clusters that still run it)",
            "trainjob",
            enum=["trainjob", "pytorchjob"],
        ),
    ]


def entry_inputs(stage_params: list[Parameter]) -> list[Parameter]:
    """The inputs of a training phase's entry DAG: the stage's own, then how it scales."""
    return [*stage_params, *scaling_params()]


def passed_inputs(stage_params: list[Parameter]) -> dict[str, str]:
    """The arguments the entry DAG passes on to its training task: all its inputs but nothing else."""
    return common.inputs(*[p.name for p in stage_params], *SCALING)


def launch_args(nodes: str, stage_args: list[str]) -> list[str]:
    flags = {"--nodes": nodes, "--gpus-per-node": common.GPUS, "--strategy": "{{inputs.parameters.strategy}}"}
    return [*common.command_line("launch", flags), "--", *stage_args]


def train_container(stage_params: list[Parameter], stage_args: list[str], deadline: int) -> Container:
    return Container(
        name="train",
        image=TRAIN_IMAGE,
        command=["fmops"],
        args=launch_args("1", stage_args),
        inputs=common.bare(*[p.name for p in stage_params], *SCALING),
        env=[common.HF_TOKEN_ENV],
        labels={STEP_KIND: "training"},
        annotations=common.DO_NOT_DISRUPT,
        retry_strategy=common.retry_strategy(),
        synchronization=common.GPU_TRAINING_SEMAPHORE,
        active_deadline_seconds=deadline,
        **common.gpu_scheduling(common.train_pool(common.GPUS), common.GPUS),
    )


# NCCL over EFA as the AWS reference setups run it: libfabric's EFA provider only (no silent fallback to
# its TCP provider), GPUDirect RDMA on p4d/p5, fork-safe buffers for data-loader workers, and the chosen
# transport (NET/OFI ... efa, or NET/Socket when EFA is missing) in every pod's log.
EFA_ENV = [
    {"name": "FI_PROVIDER", "value": "efa"},
    {"name": "FI_EFA_USE_DEVICE_RDMA", "value": "1"},
    {"name": "FI_EFA_FORK_SAFE", "value": "1"},
    {"name": "NCCL_DEBUG", "value": "INFO"},
    {"name": "NCCL_DEBUG_SUBSYS", "value": "INIT,NET"},
]
JOB_LABEL = "fmops.io/job"
ZONE = "topology.kubernetes.io/zone"
# A finished job and its pods stay this long for `kubectl logs`, then the operator deletes them.
FINISHED_TTL = 3600
# The workflow pods' identity (the images' user), which the operator's pods do not inherit.
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 1000,
    "fsGroup": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}
# The replicas' container: PodSecurity `restricted`. torchrun, NCCL and EFA (libfabric through the device
# plugin's devices) run as uid 1000 and need no capability.
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def count(tag: str) -> str:
    """A count parameter as a resource quantity: asInt fails the step on anything but an integer."""
    return f"{{{{={common.as_int(tag)}}}}}"


def pytorch_container(command: list[str], env: list[dict]) -> dict[str, Any]:
    """The one container of every replica: `command` on the node's GPUs and EFA interfaces."""
    devices = {"nvidia.com/gpu": count(common.GPUS), "vpc.amazonaws.com/efa": count(EFA)}
    return {
        "name": "pytorch",
        "image": "{{inputs.parameters.image}}",
        "command": command[:1],
        "args": command[1:],
        "env": [*env, *EFA_ENV],
        "resources": {"requests": {**devices, **common.per_gpu(common.GPUS)}, "limits": dict(devices)},
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
        "securityContext": dict(CONTAINER_SECURITY),
    }


def replica_pod(kind: str, job_id: str, container: dict[str, Any]) -> dict[str, Any]:
    """A replica's pod on a gpu-train node, in the same zone as the job's other replicas."""
    same_zone = {"labelSelector": {"matchLabels": {JOB_LABEL: job_id}}, "topologyKey": ZONE}
    return {
        "metadata": {"labels": {STEP_KIND: kind, JOB_LABEL: job_id}, "annotations": dict(common.DO_NOT_DISRUPT)},
        "spec": {
            "serviceAccountName": common.SERVICE_ACCOUNT,
            # the training processes talk to S3 (Pod Identity), never to the Kubernetes API
            "automountServiceAccountToken": False,
            "securityContext": POD_SECURITY,
            "nodeSelector": {common.NODE_POOL: "gpu-train"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [same_zone]}},
            "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}}],
            "containers": [container],
        },
    }


def pytorchjob_manifest(
    name: str,
    command: list[str],
    *,
    kind: str = "training",
    deadline: int,
    backoff: int = 3,
    restart: str = "OnFailure",
    env: list[dict] = (),
    workers: str | int = WORKERS,
) -> str:
    """A PyTorchJob (Master + `workers` Workers) whose every replica runs `command` on a gpu-train node
    with EFA. Its life is bounded like the step that creates it: it stops at the step's deadline and is
    deleted an hour after it ends (cleanPodPolicy All removes its pods at once), and it is owned by
    the Workflow. All its pods share one zone (EFA does not cross zones) through a pod affinity on a
    label unique to this run and stage.

    Gang scheduling: no co-scheduler is installed; instead the `gpu-training` semaphore bounds how many
    GPU jobs compete for the capped pool, Karpenter provisions every pending replica of a job in one
    batch, and a job whose workers cannot all start ends at its deadline rather than holding GPUs."""
    job_id = f"{{{{workflow.uid}}}}-{name}"
    pod = replica_pod(kind, job_id, pytorch_container(command, env))
    job = {
        "apiVersion": PYTORCHJOB_API,
        "kind": "PyTorchJob",
        "metadata": {
            "generateName": f"{{{{workflow.name}}}}-{name}-",
            "namespace": common.NAMESPACE,
            "labels": {JOB_LABEL: job_id},
        },
        "spec": {
            "runPolicy": {
                "cleanPodPolicy": "All",
                "backoffLimit": backoff,
                "activeDeadlineSeconds": deadline,
                "ttlSecondsAfterFinished": FINISHED_TTL,
            },
            "pytorchReplicaSpecs": {
                "Master": {"replicas": 1, "restartPolicy": restart, "template": pod},
                "Worker": {"replicas": workers, "restartPolicy": restart, "template": copy.deepcopy(pod)},
            },
        },
    }
    job, expressions = json_scalars(job)
    text = yaml.safe_dump(job, sort_keys=False, width=1_000_000)
    for marker, expression in expressions.items():
        text = text.replace(marker, expression)
    # The replica count must reach Kubernetes as a number, so its expression tag goes in unquoted.
    return text.replace(f"'{WORKERS}'", WORKERS)


def json_scalars(tree: Any, found: dict[str, str] | None = None) -> tuple[Any, dict[str, str]]:
    """`tree` with every string that holds `{{inputs.parameters.x}}` replaced by a marker, and marker ->
    the `{{=toJson(...)}}` tag to put in its place, unquoted.

    Argo fills a resource manifest's tags in as raw text before the YAML is parsed, so a plain tag lets a
    value with a quote and a newline add fields (a container mounting a Secret). toJson makes the value a
    JSON string literal, which YAML reads as exactly one double-quoted scalar whatever it holds."""
    found = {} if found is None else found
    if isinstance(tree, dict):
        return {key: json_scalars(value, found)[0] for key, value in tree.items()}, found
    if isinstance(tree, list):
        return [json_scalars(value, found)[0] for value in tree], found
    if not isinstance(tree, str) or not PARAMETER_TAG.search(tree):
        return tree, found
    marker = f"FMOPS_PARAMETER_SCALAR_{len(found)}_END"  # the end keeps _1 from matching inside _10
    found[marker] = "{{=toJson(" + concatenation(tree) + ")}}"
    return marker, found


def concatenation(text: str) -> str:
    """`lora={{inputs.parameters.lora}}` as the expression `"lora=" + inputs.parameters["lora"]`."""
    parts = []
    for index, piece in enumerate(PARAMETER_TAG.split(text)):
        if index % 2:
            parts.append(f'inputs.parameters["{piece}"]')
        elif piece:
            if "{{" in piece or not PLAIN_LITERAL.fullmatch(piece):
                raise ValueError(f"manifest value {text!r}: {piece!r} cannot be joined to a parameter safely")
            parts.append(json.dumps(piece))
    return " + ".join(parts)


def distributed_resource(stage: str, stage_params: list[Parameter], stage_args: list[str], deadline: int) -> Resource:
    command = ["fmops", *launch_args("{{inputs.parameters.nodes}}", stage_args)]
    manifest = pytorchjob_manifest(stage, command, deadline=deadline, env=[common.env_entry(common.HF_TOKEN_ENV)])
    return Resource(
        name="train-pytorchjob",
        action="create",
        set_owner_reference=True,
        manifest=manifest,
        success_condition="status.replicaStatuses.Master.succeeded > 0",
        failure_condition="status.replicaStatuses.Master.failed > 0",
        inputs=[*common.bare(*[p.name for p in stage_params], *SCALING), common.image_input(TRAIN_IMAGE)],
        labels={STEP_KIND: "training"},
        retry_strategy=common.retry_strategy(),
        synchronization=common.GPU_TRAINING_SEMAPHORE,
        active_deadline_seconds=deadline,
    )


def on_exit(template: Resource) -> dict[str, LifecycleHook]:
    """Task `hooks` that run `template` when the task ends, however it ends."""
    return {"exit": LifecycleHook(template=template.name)}


def collect_container(artifacts: list[tuple[str, str]]) -> Container:
    return common.cpu_container(
        "collect",
        ["collect", "--output", "{{inputs.parameters.output}}", "--results-dir", RESULTS_DIR],
        inputs=common.bare("output"),
        outputs=[
            common.result("metrics", "metrics.json"),
            *(Artifact(name=name, path=f"{RESULTS_DIR}/{file}", optional=True) for name, file in artifacts),
        ],
    )
