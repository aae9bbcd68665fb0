"""Run a stage on one process, or on many under `accelerate launch` (DDP, FSDP2 or ZeRO-3).

On several nodes the operator tells each pod the rendezvous and its node's rank: a Training Operator v1
PyTorchJob as MASTER_ADDR, MASTER_PORT and RANK, a Kubeflow Trainer v2 TrainJob as PET_MASTER_ADDR,
PET_MASTER_PORT and PET_NODE_RANK (torchrun's names); accelerate takes them from here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from importlib import resources

from fmops.core.errors import InputError

STRATEGIES = ("ddp", "fsdp2", "zero3")


def accelerate_config(strategy: str) -> str:
    return str(resources.files("fmops") / "accelerate" / f"{strategy}.yaml")


def accelerate_command(
    *, stage: list[str], nodes: int, gpus_per_node: int, strategy: str, env: Mapping[str, str] = os.environ
) -> list[str]:
    """The `accelerate launch` command line that runs `fmops STAGE...` on every process of this node."""
    command = [
        "accelerate",
        "launch",
        "--config_file",
        accelerate_config(strategy),
        "--num_processes",
        str(nodes * gpus_per_node),
        "--num_machines",
        str(nodes),
    ]
    if nodes > 1:
        command += [
            "--machine_rank",
            env.get("RANK") or env.get("PET_NODE_RANK", "0"),
            "--main_process_ip",
            env.get("MASTER_ADDR") or env.get("PET_MASTER_ADDR", "localhost"),
            "--main_process_port",
            env.get("MASTER_PORT") or env.get("PET_MASTER_PORT", "29500"),
        ]
    # the package's own entry point, so each process parses the stage's flags exactly as `fmops` does
    return [*command, "-m", "fmops", *stage]


def launch(
    *,
    stage: list[str],
    nodes: int = 1,
    gpus_per_node: int = 1,
    strategy: str = "ddp",
    run_in_place: Callable[[list[str]], int],
    env: Mapping[str, str] = os.environ,
) -> int:
    """Run `stage` (a command line such as ["pretrain", "--model", ...]) and return its exit status.

    One process, or already one of torchrun's processes (LOCAL_RANK set: `fmops run` maps a PyTorchJob to
    torchrun): `run_in_place(stage)`, in this process. Otherwise this process is replaced by `accelerate
    launch`, so signals and the exit status pass straight through.
    """
    if not stage:
        raise InputError("launch: no stage given (usage: fmops launch [options] -- STAGE ...)")
    if nodes < 1 or gpus_per_node < 1:
        raise InputError("launch: --nodes and --gpus-per-node must be at least 1")
    if strategy not in STRATEGIES:
        raise InputError(f"launch: strategy {strategy!r}: expected one of {', '.join(STRATEGIES)}")
    if nodes * gpus_per_node == 1 or "LOCAL_RANK" in env:
        return run_in_place(stage)
    command = accelerate_command(stage=stage, nodes=nodes, gpus_per_node=gpus_per_node, strategy=strategy, env=env)
    os.execvp(command[0], command)
    return 1  # unreachable: execvp does not return
