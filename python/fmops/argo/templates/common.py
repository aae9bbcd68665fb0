"""What every fmops template shares: images, scheduling, retries, deadlines, and the step-kind label.

The label `fmops.io/step-kind` tells `fmops validate` which policy a template must satisfy:
  training  a GPU step that trains: GPU scheduling (toleration, nodeSelector, /dev/shm) and a retryStrategy
  gpu       a GPU step that does not train: GPU scheduling
  cpu       anything else
"""

from __future__ import annotations

from typing import Any

from hera.shared import global_config
from hera.workflows import (
    Container,
    CronWorkflow,
    EmptyDirVolume,
    Parameter,
    Resource,
    RetryStrategy,
    SecretEnv,
    Task,
    WorkflowTemplate,
)
from hera.workflows.models import (
    Backoff,
    Capabilities,
    ConfigMapKeySelector,
    ExecutorConfig,
    PodGC,
    PodSecurityContext,
    ResourceRequirements,
    SeccompProfile,
    SecurityContext,
    SemaphoreRef,
    Synchronization,
    Toleration,
    TTLStrategy,
    ValueFrom,
    WorkflowTemplateRef,
)

NAMESPACE = "fmops"
# Identities (argocd/addons/fmops/): a step's own container runs as SERVICE_ACCOUNT (S3 through EKS Pod
# Identity) without a Kubernetes token; Argo's executor reports its results with EXECUTOR_ACCOUNT's token,
# mounted into the executor's containers only. A template that calls the API itself says so explicitly.
SERVICE_ACCOUNT = "fmops-workflow"
EXECUTOR_ACCOUNT = "fmops-executor"
# Resource templates: the executor creates, watches and deletes the training jobs.
LAUNCHER_ACCOUNT = "fmops-launcher"
# `fmops trainjob-failure`: reads the run's TrainJobs (get, list) to say why one failed; nothing else.
TRAINJOB_READER_ACCOUNT = "fmops-trainjob-reader"
# `fmops deploy`'s serving objects; also the only identity that may write the model registry.
DEPLOY_ACCOUNT = "fmops-deploy"
TRAIN_IMAGE = "ghcr.io/fmops/fmops-train:0.1.0"
EVAL_IMAGE = "ghcr.io/fmops/fmops-eval:0.1.0"
STEP_KIND = "fmops.io/step-kind"
# Stages write small results here; Argo reads output parameters and artifacts from it.
RESULTS_DIR = "/tmp/fmops/results"
GPU_TOLERATION = Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")
NODE_POOL = "karpenter.sh/nodepool"
GPU_TRAINING_SEMAPHORE = Synchronization(
    semaphores=[SemaphoreRef(config_map_key_ref=ConfigMapKeySelector(name="fmops-semaphores", key="gpu-training"))]
)
HOUR = 3600
DAY = 24 * HOUR
# The Hugging Face token for gated hub models, if the Secret exists: the one definition, for container
# templates as it is and for the pods of a PyTorchJob manifest through `env_entry`.
HF_TOKEN_ENV = SecretEnv(name="HF_TOKEN", secret_name="hf-token", secret_key="token", optional=True)
# Where `fmops notify` posts how a run ended, if the Secret exists.
WEBHOOK_ENV = SecretEnv(name="FMOPS_WEBHOOK_URL", secret_name="fmops-notify", secret_key="webhook-url", optional=True)


def workflow_options(title: str, description: str, deadline: int) -> dict[str, Any]:
    """Keyword arguments every WorkflowTemplate and CronWorkflow of fmops is created with."""
    return {
        "namespace": NAMESPACE,
        "labels": {"app.kubernetes.io/part-of": "fmops"},
        "annotations": {
            "workflows.argoproj.io/title": title,
            "workflows.argoproj.io/description": description,
        },
        "service_account_name": SERVICE_ACCOUNT,
        "automount_service_account_token": False,
        "executor": ExecutorConfig(service_account_name=EXECUTOR_ACCOUNT),
        "active_deadline_seconds": deadline,
        "pod_gc": PodGC(strategy="OnPodSuccess"),
        "ttl_strategy": TTLStrategy(seconds_after_success=DAY, seconds_after_failure=7 * DAY),
        "security_context": PodSecurityContext(
            run_as_non_root=True, run_as_user=1000, fs_group=1000, seccomp_profile=RUNTIME_DEFAULT
        ),
    }


def kubernetes_api(account: str) -> dict[str, Any]:
    """Template keyword arguments of a step whose own container calls the Kubernetes API as `account`."""
    return {"service_account_name": account, "automount_service_account_token": True}


def registry_writer() -> dict[str, Any]:
    """Template keyword arguments of a step that writes the model registry (fmops/models/ in S3): the IAM
    role of DEPLOY_ACCOUNT, still without a Kubernetes token."""
    return {"service_account_name": DEPLOY_ACCOUNT}


# PodSecurity `restricted` for every step: the pod runs as uid 1000 under the runtime's seccomp profile, and
# each container template's main container (the images' own process) escalates nothing and holds no capability.
RUNTIME_DEFAULT = SeccompProfile(type="RuntimeDefault")
global_config.set_class_defaults(
    Container,
    security_context=SecurityContext(
        allow_privilege_escalation=False,
        capabilities=Capabilities(drop=["ALL"]),
        run_as_non_root=True,
        seccomp_profile=RUNTIME_DEFAULT,
    ),
)

# Every resource template is Argo's executor calling the API for the step (create a job, wait for it,
# delete it): it runs as LAUNCHER_ACCOUNT, the one identity allowed those kinds, unless it names another.
global_config.set_class_defaults(Resource, executor=ExecutorConfig(service_account_name=LAUNCHER_ACCOUNT))


def cron_options(schedule: str, starting_deadline: int, keep_succeeded: int, keep_failed: int) -> dict[str, Any]:
    """How every fmops CronWorkflow is scheduled: in UTC, never overlapping its previous run."""
    return {
        "schedules": [schedule],
        "timezone": "UTC",
        "concurrency_policy": "Forbid",
        "starting_deadline_seconds": starting_deadline,
        "successful_jobs_history_limit": keep_succeeded,
        "failed_jobs_history_limit": keep_failed,
    }


def scheduled(template: WorkflowTemplate, params: list[Parameter], options: dict[str, Any], title: str) -> CronWorkflow:
    """The CronWorkflow `<template>-cron` that runs `template` on a schedule. The controller refuses any
    Workflow without a workflowTemplateRef (templateReferencing: Strict), so its spec is only the reference
    and the arguments (the same defaults, which kustomize fills in from fmops-settings)."""
    return CronWorkflow(
        name=f"{template.name}-cron",
        namespace=NAMESPACE,
        labels={"app.kubernetes.io/part-of": "fmops"},
        annotations={"workflows.argoproj.io/title": title},
        **options,
        workflow_template_ref=WorkflowTemplateRef(name=template.name),
        arguments=[argument(p) for p in params],
    )


def param(name: str, description: str, default: str | None = None, enum: list[str] | None = None) -> Parameter:
    """A documented template input; without a default it is required."""
    options = {"default": default} if default is not None else {}
    return Parameter(name=name, description=description, enum=enum, **options)


def argument(parameter: Parameter) -> Parameter:
    """The workflow-level argument for an entry input: same name, description and choices; its default
    becomes the value `argo submit` uses unless `-p` overrides it."""
    options = {"value": parameter.default} if parameter.default is not None else {}
    return Parameter(name=parameter.name, description=parameter.description, enum=parameter.enum, **options)


def image_input(image: str) -> Parameter:
    """The image of a resource template's pods. Kubernetes manifests inside a resource template are strings
    kustomize cannot see into, so the image travels as this input's default, which `fmops render`'s
    kustomization keeps equal to the container templates' (overridden) image."""
    return Parameter(name="image", default=image)


def bare(*names: str) -> list[Parameter]:
    """Inputs of an inner template: documented once on the entry template, here only named."""
    return [Parameter(name=name) for name in names]


def inputs(*names: str) -> dict[str, str]:
    """Arguments that pass a template's own inputs straight through to a task of the same names."""
    return {name: f"{{{{inputs.parameters.{name}}}}}" for name in names}


def result(name: str, file: str, global_name: str | None = None) -> Parameter:
    return Parameter(name=name, value_from=ValueFrom(path=f"{RESULTS_DIR}/{file}"), global_name=global_name)


def from_task(name: str, task: str, output: str) -> Parameter:
    """A DAG output parameter taken from one of its tasks' outputs."""
    return Parameter(name=name, value_from=ValueFrom(parameter=f"{{{{tasks.{task}.outputs.parameters.{output}}}}}"))


def retry_strategy() -> RetryStrategy:
    """Retry node loss, spot interruption and crashes, never bad input (exit 2). Training resumes from
    its last complete checkpoint and evaluation starts again, so a retry costs at most one attempt."""
    return RetryStrategy(
        limit=3,
        retry_policy="Always",
        expression='lastRetry.status == "Error" or (lastRetry.status == "Failed" and asInt(lastRetry.exitCode) != 2)',
        backoff=Backoff(duration="1m", factor=2, max_duration="30m"),
    )


# Karpenter neither consolidates nor drifts a node while a pod with this annotation runs on it: a training
# step is never moved off its node half way (spot interruption and node failure still happen; retries cover them).
DO_NOT_DISRUPT = {"karpenter.sh/do-not-disrupt": "true"}
# Per GPU: enough CPU for data loading and memory for the host copy of a checkpoint shard; a request, so the
# scheduler reserves it and a training pod never shares its node's memory with a stranger.
CPU_PER_GPU, MEMORY_PER_GPU = 4, 32
GPUS = "{{inputs.parameters.gpus-per-node}}"


def as_int(tag: str) -> str:
    """`{{inputs.parameters.x-y}}` as a number inside an expression tag (a hyphen there would subtract).
    Double quotes: Argo fills tags into a resource manifest before it parses the YAML, where a single
    quote would arrive doubled by YAML's escaping."""
    return f'asInt(inputs.parameters["{tag.removeprefix("{{inputs.parameters.").removesuffix("}}")}"])'


def per_gpu(gpus: str) -> dict[str, str]:
    """CPU and memory requests for `gpus` GPUs: an expression tag when the count is a parameter."""
    if gpus.isdigit():
        return {"cpu": str(CPU_PER_GPU * int(gpus)), "memory": f"{MEMORY_PER_GPU * int(gpus)}Gi"}
    count = as_int(gpus)
    return {"cpu": f"{{{{={CPU_PER_GPU} * {count}}}}}", "memory": f"{{{{={MEMORY_PER_GPU} * {count}}}}}Gi"}


def train_pool(gpus: str) -> str:
    """The training pool for a node of `gpus` GPUs: gpu-train (p5/p4d, 8 GPUs, EFA) for 8, gpu-train-small
    (g6e/g6/g5) below, so a one-GPU step does not occupy an 8-GPU instance."""
    count = as_int(gpus)
    return f"{{{{={count} >= 8 ? 'gpu-train' : 'gpu-train-small'}}}}"


def gpu_scheduling(pool: str, gpus: str) -> dict[str, Any]:
    """Container keyword arguments that put a step on a GPU node pool with `gpus` GPUs and a large /dev/shm."""
    return {
        "resources": ResourceRequirements(
            requests={"nvidia.com/gpu": gpus, **per_gpu(gpus)}, limits={"nvidia.com/gpu": gpus}
        ),
        "tolerations": [GPU_TOLERATION],
        "node_selector": {NODE_POOL: pool},
        "volumes": [EmptyDirVolume(name="dshm", mount_path="/dev/shm", medium="Memory")],
    }


def cpu_container(
    name: str,
    args: list[str],
    *,
    image: str = EVAL_IMAGE,
    deadline: int = HOUR,
    cpu: int = 1,
    memory_gib: int = 2,
    **options: Any,
) -> Container:
    """A step on the CPU pool that runs one `fmops` command (small unless `cpu`/`memory_gib` say otherwise)."""
    return Container(
        name=name,
        image=image,
        command=["fmops"],
        args=args,
        labels={STEP_KIND: "cpu"},
        node_selector={NODE_POOL: "cpu"},
        resources=ResourceRequirements(requests={"cpu": str(cpu), "memory": f"{memory_gib}Gi"}),
        active_deadline_seconds=deadline,
        **options,
    )


def run_path(name: str) -> str:
    """`<storage-root>/runs/<workflow name>/<name>` inside an expression tag."""
    return f"workflow.parameters['storage-root'] + '/runs/' + workflow.name + '/{name}'"


def tokenized_or_raw(raw: str) -> str:
    """The pretraining data: the run's token shards when the workflow's `tokenize` is true, else `raw` (an
    expression), as an expression tag."""
    return f"{{{{=workflow.parameters.tokenize == 'true' ? {run_path('tokens')} : {raw}}}}}"


def curated_or_raw(raw: str) -> str:
    """The training data before tokenizing: the run's curated documents (fmops-curate) when the workflow's
    `curate` is true, else `raw`; both are expressions, for use inside an expression tag."""
    return f"(workflow.parameters.curate == 'true' ? {run_path('curated')} + '/documents' : {raw})"


def expression(value: str) -> str:
    """An expression as a tag whose value is the expression's result."""
    return f"{{{{={value}}}}}"


def env_entry(env: SecretEnv) -> dict[str, Any]:
    """A Secret-backed variable as a plain pod-spec entry, for manifests Hera does not build."""
    selector = {"name": env.secret_name, "key": env.secret_key, "optional": env.optional}
    return {"name": env.name, "valueFrom": {"secretKeyRef": selector}}


def command_line(words: str, flags: dict[str, str]) -> list[str]:
    """Arguments of an `fmops` command: its (space-separated) words, then each flag followed by its value."""
    return [*words.split(), *(part for flag in flags.items() for part in flag)]


# DAG dependencies are written with Hera's operators after the tasks: `[a, b] >> c` (c waits for a and b),
# `a.on_success(c)` (c runs only if a succeeded); the clauses below go into such a list for the other cases.


def succeeded(task: Task) -> str:
    return f"{task.name}.Succeeded"


def succeeded_or_skipped(task: Task) -> str:
    """For an upstream task that its `when` may skip: the task after it runs either way, unless it failed."""
    return f"({succeeded(task)} || {task.name}.Skipped)"


def succeeded_or_not_run(task: Task) -> str:
    """For an upstream task that runs only after another (`on_success`): when that one was skipped, this one is
    Omitted, and the task after it runs either way, unless it failed."""
    return f"({succeeded(task)} || {task.name}.Skipped || {task.name}.Omitted)"


def one_succeeded(*tasks: Task) -> str:
    """For alternatives of which `when` runs one: whichever ran succeeded."""
    return " || ".join(succeeded(task) for task in tasks)
