"""A Kubeflow Trainer v2 TrainJob step run here, the way pods.pytorchjob_process runs a PyTorchJob: its
`numNodes` nodes become that many torchrun processes on this machine over the TrainJob's own trainer
command (`fmops launch ...`), which then runs its stage in place (LOCAL_RANK is set).

What it reads: only the TrainJob manifest in the resource template (spec.trainer.command, args, env and
numNodes). The ClusterTrainingRuntime it names (argocd/addons/trainer/) is not read: fmops TrainJobs
always give their own command, which replaces the runtime's default torchrun. Kueue's admission and the
runtime's pod settings (pool, zone, EFA) have no local meaning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fmops.argo.documents import resource_manifest
from fmops.argo.local.expressions import substitute

JOB_KINDS = ("PyTorchJob", "TrainJob")
JOB_PLURALS = ("pytorchjobs", "trainjobs")


def is_trainjob(template: dict[str, Any]) -> bool:
    return resource_manifest(template).get("kind") == "TrainJob"


def trainjob_process(template: dict[str, Any], variables: dict[str, Any], directory: Path):
    from fmops.argo.local import pods

    manifest = yaml.safe_load(substitute(template["resource"]["manifest"], variables))
    trainer = manifest["spec"]["trainer"]
    processes = int(trainer.get("numNodes", 1))
    command = [*(trainer.get("command") or []), *(trainer.get("args") or [])]
    notes = [f"TrainJob of {processes} node(s) runs as torchrun --nproc_per_node {processes} on this machine"]
    if command[:1] == ["fmops"]:
        command = ["torchrun", "--standalone", "--nproc_per_node", str(processes), "-m", "fmops.cli", *command[1:]]
    return pods.Process(
        command=pods.interpreter(command),
        env=pods.environment(trainer.get("env") or [], variables, notes),
        directory=directory,
        timeout=pods.deadline_of(template),
        notes=notes,
    )
