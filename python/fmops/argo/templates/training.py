"""The shape every training phase shares (pretrain, sft, dpo).

Entry DAG `<stage>`:
  train              one pod, `fmops launch` with one process per GPU (nodes == 1)
  train-distributed  a Kubeflow PyTorchJob of `nodes` pods, created by a resource template (nodes > 1)
  collect            checks the output is complete (manifest.json) and exposes metrics to the Argo UI
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hera.workflows import DAG, Artifact, Container, Parameter, Resource, Task, WorkflowTemplate

from fmops.argo.templates import common
from fmops.argo.templates.common import DAY, RESULTS_DIR, STEP_KIND, TRAIN_IMAGE, param

PYTORCHJOB_API = "kubeflow.org/v1"
SCALING = ("nodes", "gpus-per-node", "efa-per-node", "strategy")
WORKERS = "{{=asInt(inputs.parameters.nodes) - 1}}"


def scaling_params() -> list[Parameter]:
    return [
        param("nodes", "nodes to train on; above 1 the step becomes a Kubeflow PyTorchJob", "1"),
        param("gpus-per-node", "GPUs (and processes) per node", "1"),
        param("efa-per-node", "EFA network interfaces per node for multi-node runs (p5: 32, p4d: 4)", "0"),
        param("strategy", "how processes share the model: ddp (fits one GPU), fsdp2 or zero3 (sharded)",
              "ddp", enum=["ddp", "fsdp2", "zero3"]),
    ]  # fmt: skip


def launch_args(nodes: str, stage_args: list[str]) -> list[str]:
    return [
        "launch", "--nodes", nodes,
        "--gpus-per-node", "{{inputs.parameters.gpus-per-node}}",
        "--strategy", "{{inputs.parameters.strategy}}",
        "--", *stage_args,
    ]  # fmt: skip


def train_container(stage_params: list[Parameter], stage_args: list[str], deadline: int) -> Container:
    return Container(
        name="train",
        image=TRAIN_IMAGE,
        command=["fmops"],
        args=launch_args("1", stage_args),
        inputs=common.bare(*[p.name for p in stage_params], *SCALING),
        env=[common.hf_token_env()],
        labels={STEP_KIND: "training"},
        retry_strategy=common.training_retry(),
        synchronization=common.GPU_TRAINING_SEMAPHORE,
        active_deadline_seconds=deadline,
        **common.gpu_scheduling("gpu-train", "{{inputs.parameters.gpus-per-node}}"),
    )


def pytorchjob_manifest(stage: str, stage_args: list[str]) -> str:
    """A PyTorchJob whose every replica runs the same `fmops launch` line (rank from the operator's env)."""
    pod = {
        "metadata": {"labels": {STEP_KIND: "training"}},
        "spec": {
            "serviceAccountName": common.SERVICE_ACCOUNT,
            "nodeSelector": {common.NODE_POOL: "gpu-train"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}}],
            "containers": [{
                "name": "pytorch",
                "image": "{{inputs.parameters.image}}",
                "command": ["fmops"],
                "args": launch_args("{{inputs.parameters.nodes}}", stage_args),
                "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {
                    "name": "hf-token", "key": "token", "optional": True}}}],
                "resources": {
                    "limits": {"nvidia.com/gpu": "{{inputs.parameters.gpus-per-node}}",
                               "vpc.amazonaws.com/efa": "{{inputs.parameters.efa-per-node}}"},
                },
                "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
            }],
        },
    }  # fmt: skip
    job = {
        "apiVersion": PYTORCHJOB_API,
        "kind": "PyTorchJob",
        "metadata": {"generateName": f"{{{{workflow.name}}}}-{stage}-", "namespace": common.NAMESPACE},
        "spec": {
            "runPolicy": {"cleanPodPolicy": "Running", "backoffLimit": 3},
            "pytorchReplicaSpecs": {
                "Master": {"replicas": 1, "restartPolicy": "OnFailure", "template": pod},
                "Worker": {"replicas": WORKERS, "restartPolicy": "OnFailure", "template": copy.deepcopy(pod)},
            },
        },
    }  # fmt: skip
    # The replica count must reach Kubernetes as a number, so its expression tag goes in unquoted.
    return yaml.safe_dump(job, sort_keys=False).replace(f"'{WORKERS}'", WORKERS)


def distributed_resource(stage: str, stage_params: list[Parameter], stage_args: list[str], deadline: int) -> Resource:
    return Resource(
        name="train-distributed",
        action="create",
        set_owner_reference=True,
        manifest=pytorchjob_manifest(stage, stage_args),
        success_condition="status.replicaStatuses.Master.succeeded > 0",
        failure_condition="status.replicaStatuses.Master.failed > 0",
        inputs=[*common.bare(*[p.name for p in stage_params], *SCALING), common.image_input(TRAIN_IMAGE)],
        labels={STEP_KIND: "training"},
        retry_strategy=common.training_retry(),
        synchronization=common.GPU_TRAINING_SEMAPHORE,
        active_deadline_seconds=deadline,
    )  # fmt: skip


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


def training_phase(
    stage: str,
    title: str,
    description: str,
    stage_params: list[Parameter],
    stage_args: list[str],
    artifacts: list[tuple[str, str]] = (),
    deadline: int = 3 * DAY,
) -> WorkflowTemplate:
    """The WorkflowTemplate `fmops-<stage>` with entry DAG `<stage>` (see module docstring)."""
    names = [p.name for p in stage_params]
    entry_inputs = [*stage_params, *scaling_params()]
    options: dict[str, Any] = common.workflow_options(title, description, deadline)
    arguments = [common.argument(p) for p in entry_inputs]
    with WorkflowTemplate(name=f"fmops-{stage}", entrypoint=stage, arguments=arguments, **options) as template:
        train = train_container(stage_params, stage_args, deadline)
        distributed = distributed_resource(stage, stage_params, stage_args, deadline)
        collect = collect_container(list(artifacts))
        with DAG(
            name=stage,
            inputs=entry_inputs,
            outputs=[common.from_task("metrics", "collect", "metrics")],
        ):
            passed = common.inputs(*names, *SCALING)
            Task(name="train", template=train, arguments=passed, when="{{inputs.parameters.nodes}} == 1")
            Task(
                name="train-distributed", template=distributed, arguments=passed, when="{{inputs.parameters.nodes}} > 1"
            )
            Task(
                name="collect",
                template=collect,
                arguments=common.inputs("output"),
                depends="train.Succeeded || train-distributed.Succeeded",
            )
    return template
