"""Multi-node training as a Kubeflow Trainer v2 `TrainJob`, queued by Kueue, and the `ClusterTrainingRuntime`
it runs on (committed under argocd/ by `fmops render`).

The runtime holds what every multi-node run shares: the train image, torchrun as the default command, the
EFA and NCCL environment, /dev/shm, the gpu-train pool, one zone, `karpenter.sh/do-not-disrupt`, the pods'
identity. A TrainJob only says what differs per run: its command, node count, GPUs and EFA interfaces per
node, and the image (so kustomize's image override reaches it as it reaches the container templates).

Kueue admits a TrainJob all-or-nothing: it is created suspended with the LocalQueue's label, and its pods
exist only once the ClusterQueue has quota for every node (argocd/addons/kueue/).

A phase's multi-node task runs the DAG `train-distributed`: `trainjob` creates the TrainJob and waits for it;
when it fails, `trainjob-failure` reads the TrainJob's Failed condition and fails with its reason and message,
which Argo's resource step cannot report (it names only the condition that held, and saves no outputs when
it fails). The task's exit hook deletes the run's TrainJobs once both are done."""

from __future__ import annotations

from typing import Any

import yaml
from hera.workflows import DAG, Container, Parameter, Resource

from fmops.argo.templates import common, training
from fmops.argo.templates.common import STEP_KIND, TRAIN_IMAGE

TRAINER_API = "trainer.kubeflow.org/v1alpha1"
RUNTIME = "fmops-torch"
LOCAL_QUEUE = "fmops-training"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# The one replicated job of the runtime: Trainer runs the TrainJob's trainer in it, one pod per node, and
# lists its status first in status.jobsStatus.
NODE_JOB = "node"
JOBSET_NAME = "jobset.sigs.k8s.io/jobset-name"
P5_DEVICES = {"nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "32"}
# Argo reads a resource step's conditions as label selectors whose keys are JSON paths, so a key holds only
# letters, digits and '-', '_', '.': it can index status.conditions but not search it by type. Any one
# requirement of the failureCondition fails the step; all of the successCondition's must hold.
# Failure: the TrainJob's Failed condition (the JobSet's failure, DeadlineExceeded, an unknown runtime) at
# any position it can take: Trainer writes at most Suspended and one of Complete or Failed, in the order
# they happen; the third position is there for a condition type a later Trainer adds.
FAILURE = ", ".join(f"status.conditions.{index}.type == Failed" for index in range(3))
# Success: the node job completed, which with one replicated job is the TrainJob's Complete. Its Complete
# condition is not used: it is first or second depending on whether Trainer saw the job suspended, and a
# successCondition cannot say "either".
SUCCESS = "status.jobsStatus.0.succeeded > 0"
FAILURE_COMMAND = "trainjob-failure"


def node_pod(kind: str) -> dict[str, Any]:
    """The pod of every node: what training.replica_pod gives a PyTorchJob replica, with the zone kept by
    the JobSet's own name label (matchLabelKeys) instead of a per-run label, since the runtime is shared."""
    same_zone = {
        "labelSelector": {"matchExpressions": [{"key": JOBSET_NAME, "operator": "Exists"}]},
        "matchLabelKeys": [JOBSET_NAME],
        "topologyKey": training.ZONE,
    }
    container = {
        "name": NODE_JOB,
        "image": TRAIN_IMAGE,
        # torchrun takes its node count, rank and rendezvous from the PET_* variables Trainer sets.
        "command": ["torchrun"],
        "env": list(training.EFA_ENV),
        # A p5.48xlarge node whole, unless the TrainJob's resourcesPerNode says otherwise (it always does).
        "resources": {"requests": {**P5_DEVICES, **common.per_gpu("8")}, "limits": dict(P5_DEVICES)},
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
        "securityContext": dict(training.CONTAINER_SECURITY),
    }
    return {
        "metadata": {"labels": {STEP_KIND: kind}, "annotations": dict(common.DO_NOT_DISRUPT)},
        "spec": {
            "serviceAccountName": common.SERVICE_ACCOUNT,
            # the training processes talk to S3 (Pod Identity), never to the Kubernetes API
            "automountServiceAccountToken": False,
            "securityContext": training.POD_SECURITY,
            "nodeSelector": {common.NODE_POOL: "gpu-train"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [same_zone]}},
            "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}}],
            "containers": [container],
        },
    }


def cluster_training_runtime() -> dict[str, Any]:
    """The runtime every fmops TrainJob references. A failed node fails the job at once (backoffLimit 0,
    no JobSet restart): the Argo step's retryStrategy then starts a fresh TrainJob that resumes from the
    last checkpoint, so a retry always restarts the whole gang, never one rank of it."""
    job = {
        "template": {
            "metadata": {"labels": {"trainer.kubeflow.org/trainjob-ancestor-step": "trainer"}},
            "spec": {"backoffLimit": 0, "template": node_pod("training")},
        }
    }
    return {
        "apiVersion": TRAINER_API,
        "kind": "ClusterTrainingRuntime",
        "metadata": {"name": RUNTIME, "labels": {"trainer.kubeflow.org/framework": "torch"}},
        "spec": {
            "mlPolicy": {"numNodes": 1, "torch": {}},
            "template": {
                "spec": {
                    "failurePolicy": {"maxRestarts": 0},
                    "ttlSecondsAfterFinished": training.FINISHED_TTL,
                    "replicatedJobs": [{"name": NODE_JOB, "replicas": 1, **job}],
                }
            },
        },
    }


def trainjob_manifest(name: str, command: list[str], *, deadline: int, env: list[dict] = (), nodes: str) -> str:
    """A suspended TrainJob on the fmops runtime, queued on the fmops LocalQueue: `nodes` pods each running
    `command` on `gpus-per-node` GPUs and `efa-per-node` EFA interfaces. Parameter values reach it only as
    JSON scalars (training.json_scalars); the counts as numbers through asInt."""
    job_id = f"{{{{workflow.uid}}}}-{name}"
    devices = {"nvidia.com/gpu": training.count(common.GPUS), "vpc.amazonaws.com/efa": training.count(training.EFA)}
    numbers = {"numNodes": nodes, "numProcPerNode": training.count(common.GPUS)}
    job = {
        "apiVersion": TRAINER_API,
        "kind": "TrainJob",
        "metadata": {
            # Not the workflow's name: a TrainJob's name is a DNS label, its pods' host names add to it.
            "generateName": f"fmops-{name}-",
            "namespace": common.NAMESPACE,
            "labels": {training.JOB_LABEL: job_id, QUEUE_LABEL: LOCAL_QUEUE},
        },
        "spec": {
            "suspend": True,
            "activeDeadlineSeconds": deadline,
            "runtimeRef": {"apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime", "name": RUNTIME},
            "trainer": {
                "image": "{{inputs.parameters.image}}",
                "command": command[:1],
                "args": command[1:],
                "env": list(env),
                "numNodes": "NUM_NODES",
                "numProcPerNode": "NUM_PROC",
                "resourcesPerNode": {
                    "requests": {**devices, **common.per_gpu(common.GPUS)},
                    "limits": dict(devices),
                },
            },
        },
    }
    job, expressions = training.json_scalars(job)
    text = yaml.safe_dump(job, sort_keys=False, width=1_000_000)
    for marker, expression in expressions.items():
        text = text.replace(marker, expression)
    # The counts must reach Kubernetes as numbers, so their expression tags go in unquoted.
    return text.replace("NUM_NODES", numbers["numNodes"]).replace("NUM_PROC", numbers["numProcPerNode"])


def several_nodes_as(kind: str) -> str:
    """The `when` of the multi-node task of one job kind: several nodes, and the kind the run asked for."""
    return f"{training.SEVERAL_NODES} && '{{{{inputs.parameters.job-kind}}}}' == '{kind}'"


def trainjob_resource(stage: str, stage_params: list[Parameter], stage_args: list[str], deadline: int) -> Resource:
    """Creates the stage's TrainJob and waits for it: success when its node job completed, failure (the
    step's retryStrategy then starts a fresh one) when it has the Failed condition."""
    command = ["fmops", *training.launch_args("{{inputs.parameters.nodes}}", stage_args)]
    manifest = trainjob_manifest(
        stage,
        command,
        deadline=deadline,
        env=[common.env_entry(common.HF_TOKEN_ENV)],
        nodes=training.count("{{inputs.parameters.nodes}}"),
    )
    return Resource(
        name="trainjob",
        action="create",
        set_owner_reference=True,
        manifest=manifest,
        success_condition=SUCCESS,
        failure_condition=FAILURE,
        inputs=[*common.bare(*[p.name for p in stage_params], *training.SCALING), common.image_input(TRAIN_IMAGE)],
        labels={STEP_KIND: "training"},
        retry_strategy=common.retry_strategy(),
        synchronization=common.GPU_TRAINING_SEMAPHORE,
        active_deadline_seconds=deadline,
    )


def failure_container(stage: str) -> Container:
    """Fails with why the stage's TrainJob failed: `fmops trainjob-failure` lists the run's TrainJobs by
    label (each retry made one; it cannot know their generated names) and prints the newest one's Failed
    reason and message. The line becomes the node's message in the Argo UI (the log's end stands in for
    the termination message when the container fails). Its token is fmops-trainjob-reader's, allowed to
    read trainjobs and nothing else."""
    flags = {"--namespace": common.NAMESPACE, "--selector": f"{training.JOB_LABEL}={{{{workflow.uid}}}}-{stage}"}
    return common.cpu_container(
        FAILURE_COMMAND,
        common.command_line(FAILURE_COMMAND, flags),
        deadline=600,
        memory_gib=1,
        termination_message_policy="FallbackToLogsOnError",
        **common.kubernetes_api(common.TRAINJOB_READER_ACCOUNT),
    )


def delete_resource(stage: str, plural: str, name: str) -> Resource:
    """Deletes the stage's jobs of this run (every attempt's): the exit hook of the task that created them,
    so a job never outlives its step, whether the step succeeded, failed, timed out or was stopped."""
    selector = f"{training.JOB_LABEL}={{{{workflow.uid}}}}-{stage}"
    return Resource(
        name=name,
        action="delete",
        flags=[plural, "--selector", selector, "--ignore-not-found"],
        labels={STEP_KIND: "cpu"},
        active_deadline_seconds=600,
    )


class MultiNode:
    """The templates of a phase's multi-node run: a TrainJob (the default) or, with job-kind=pytorchjob, a
    Training Operator v1 PyTorchJob, each deleted by its own exit hook."""

    def __init__(self, stage: str, stage_params: list[Parameter], stage_args: list[str], deadline: int) -> None:
        trainjob = trainjob_resource(stage, stage_params, stage_args, deadline)
        failure = failure_container(stage)
        names = [*(p.name for p in stage_params), *training.SCALING]
        with DAG(name="train-distributed", inputs=common.bare(*names)) as self.trainjob:
            run = trainjob(arguments=common.inputs(*names))
            failure(depends=f"{run.name}.Failed || {run.name}.Errored")
        self.pytorchjob = training.distributed_resource(stage, stage_params, stage_args, deadline)
        self.delete_trainjob = delete_resource(stage, "trainjobs.trainer.kubeflow.org", "delete-trainjob")
        self.delete_pytorchjob = delete_resource(stage, "pytorchjobs.kubeflow.org", "delete-pytorchjob")

    def tasks(self, passed: dict[str, str]) -> list:
        """The two alternative tasks, inside a DAG context: at most one of them runs."""
        return [
            self.trainjob(
                arguments=passed, when=several_nodes_as("trainjob"), hooks=training.on_exit(self.delete_trainjob)
            ),
            self.pytorchjob(
                arguments=passed, when=several_nodes_as("pytorchjob"), hooks=training.on_exit(self.delete_pytorchjob)
            ),
        ]
