"""The Kubeflow jobs a resource step may create, and what each runs here: a PyTorchJob's replicas or a
Kubeflow Trainer v2 TrainJob's `numNodes` nodes become that many torchrun processes on this machine over the
job's own command (`fmops launch ...`), which then runs its stage in place (LOCAL_RANK is set).

From a TrainJob only its manifest is read (spec.trainer.command, args, env and numNodes). The
ClusterTrainingRuntime it names (argocd/addons/trainer/) is not: fmops TrainJobs always give their own
command, which replaces the runtime's default torchrun. Kueue's admission and the runtime's pod settings
(pool, zone, EFA) have no local meaning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JOB_KINDS = ("PyTorchJob", "TrainJob")
JOB_PLURALS = ("pytorchjobs", "trainjobs")


@dataclass(frozen=True)
class JobCommand:
    kind: str
    processes: int
    command: list[str]
    env: list[dict[str, Any]]


def job_command(manifest: dict[str, Any]) -> JobCommand:
    """What a PyTorchJob's Master replica or a TrainJob's trainer runs, on how many processes in all."""
    if manifest.get("kind") == "TrainJob":
        trainer = manifest["spec"]["trainer"]
        processes = int(trainer.get("numNodes", 1))
        command, env = [*(trainer.get("command") or []), *(trainer.get("args") or [])], trainer.get("env") or []
        return JobCommand("TrainJob", processes, command, env)
    replicas = manifest["spec"]["pytorchReplicaSpecs"]
    processes = sum(int(spec.get("replicas", 1)) for spec in replicas.values())
    container = replicas["Master"]["template"]["spec"]["containers"][0]
    command = [*(container.get("command") or []), *(container.get("args") or [])]
    return JobCommand("PyTorchJob", processes, command, container.get("env") or [])
