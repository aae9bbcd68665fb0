"""WorkflowTemplate `fmops-validate-cluster`: check a new cluster before the first training run.

    argo submit -n fmops --from workflowtemplate/fmops-validate-cluster -p output=s3://bucket/fmops/cluster-check

`nvidia-smi` on one node of each GPU pool, then an all-reduce across two GPU nodes of the training pool
(a PyTorchJob over EFA) whose bus bandwidth appears as the `allreduce` output parameter; the run fails
when it is below `min-busbw-gbps`, and the pods' logs name the NCCL transport (NCCL INFO NET/...).
"""

from hera.workflows import DAG, Container, Resource, WorkflowTemplate

from fmops.argo.templates import common
from fmops.argo.templates.common import HOUR, STEP_KIND, TRAIN_IMAGE, param
from fmops.argo.templates.training import EFA_HELP, collect_container, pytorchjob_manifest

CUDA_IMAGE = "nvcr.io/nvidia/cuda:12.8.1-base-ubuntu24.04"
# Floors at a quarter of each instance's EFA line rate (p5.48xlarge 3200 Gbit/s, p4d.24xlarge and
# g6e.48xlarge 400 Gbit/s, as AWS lists them): two nodes over EFA reach well above, while NCCL's fallback to
# TCP sockets stays below, so a run that passes really used EFA.
BUSBW_FLOORS = {"p5.48xlarge": 100.0, "p4d.24xlarge": 12.5, "g6e.48xlarge": 12.5}
PARAMS = [
    param("output", "URI where the all-reduce result (metrics.json, manifest.json) is written"),
    param("gpus-per-node", "GPUs per training node to include in the all-reduce", "8"),
    param("efa-per-node", EFA_HELP, "32"),
    param("size-mb", "all-reduce message size in MiB", "1024"),
    param(
        "min-busbw-gbps",
        "fail below this all-reduce bus bandwidth in GB/s: "
        + ", ".join(f"{kind} {floor:g}" for kind, floor in BUSBW_FLOORS.items())
        + "; 0: report only",
        "100",
    ),
]


def nvidia_smi() -> Container:
    return Container(
        name="nvidia-smi",
        image=CUDA_IMAGE,
        command=["nvidia-smi"],
        inputs=common.bare("pool"),
        labels={STEP_KIND: "gpu"},
        active_deadline_seconds=HOUR,
        **common.gpu_scheduling("{{inputs.parameters.pool}}", "1"),
    )


def allreduce_manifest() -> str:
    torchrun = ["torchrun", "--nproc-per-node", "{{inputs.parameters.gpus-per-node}}", "-m", "fmops.cli"]
    flags = {
        "--size-mb": "{{inputs.parameters.size-mb}}",
        "--output": "{{inputs.parameters.output}}",
        "--min-busbw-gbps": "{{inputs.parameters.min-busbw-gbps}}",
    }
    command = [*torchrun, *common.command_line("allreduce", flags)]
    return pytorchjob_manifest("allreduce", command, kind="gpu", deadline=HOUR, backoff=0, restart="Never", workers=1)


with WorkflowTemplate(
    name="fmops-validate-cluster",
    entrypoint="validate-cluster",
    arguments=[common.argument(p) for p in PARAMS],
    **common.workflow_options(
        "fmops: validate the cluster",
        "nvidia-smi on each GPU pool and an all-reduce across two training nodes, with its bus bandwidth.",
        deadline=2 * HOUR,
    ),
) as workflow:
    nvidia_smi_pod = nvidia_smi()
    allreduce_job = Resource(
        name="allreduce",
        action="create",
        set_owner_reference=True,
        manifest=allreduce_manifest(),
        success_condition="status.replicaStatuses.Master.succeeded > 0",
        failure_condition="status.replicaStatuses.Master.failed > 0",
        inputs=[
            *common.bare("output", "gpus-per-node", "efa-per-node", "size-mb", "min-busbw-gbps"),
            common.image_input(TRAIN_IMAGE),
        ],
        labels={STEP_KIND: "gpu"},
        active_deadline_seconds=HOUR,
    )
    check_output = collect_container([])

    with DAG(name="validate-cluster", inputs=PARAMS, outputs=[common.from_task("allreduce", "collect", "metrics")]):
        gpu_train = nvidia_smi_pod(name="gpu-train", arguments={"pool": "gpu-train"})
        nvidia_smi_pod(name="gpu-serve", arguments={"pool": "gpu-serve"})
        allreduce = allreduce_job(
            arguments=common.inputs("output", "gpus-per-node", "efa-per-node", "size-mb", "min-busbw-gbps")
        )
        collect = check_output(arguments=common.inputs("output"))
        gpu_train >> allreduce >> collect
