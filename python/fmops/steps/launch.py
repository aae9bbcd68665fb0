"""Run a stage on one process, or on many under `accelerate launch` (DDP, FSDP2 or ZeRO-3).

    fmops launch --gpus-per-node 8 --strategy fsdp2 -- pretrain --model s3://b/base --data s3://b/new ...

The WorkflowTemplates call every training stage through this command, so one template line serves a laptop
(one process: the stage runs in-process), an 8-GPU node, and every node of a Kubeflow PyTorchJob (the
training operator sets MASTER_ADDR, MASTER_PORT and RANK, the node's rank, in each pod).
"""

from __future__ import annotations

import argparse
import os
from importlib import resources

from fmops.core.errors import InputError

STRATEGIES = ("ddp", "fsdp2", "zero3")


def accelerate_config(strategy: str) -> str:
    return str(resources.files("fmops") / "accelerate" / f"{strategy}.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=1, help="number of nodes (PyTorchJob replicas)")
    parser.add_argument("--gpus-per-node", type=int, default=1, help="processes per node, one per GPU")
    parser.add_argument("--strategy", choices=STRATEGIES, default="ddp", help="how to shard across processes")
    parser.add_argument("stage", nargs=argparse.REMAINDER, help="-- STAGE [stage arguments]")


def accelerate_command(args: argparse.Namespace, stage: list[str]) -> list[str]:
    """The `accelerate launch` command line for a multi-process run."""
    command = [
        "accelerate", "launch",
        "--config_file", accelerate_config(args.strategy),
        "--num_processes", str(args.nodes * args.gpus_per_node),
        "--num_machines", str(args.nodes),
    ]  # fmt: skip
    if args.nodes > 1:
        command += [
            "--machine_rank", os.environ.get("RANK", "0"),
            "--main_process_ip", os.environ.get("MASTER_ADDR", "localhost"),
            "--main_process_port", os.environ.get("MASTER_PORT", "29500"),
        ]  # fmt: skip
    return [*command, "-m", "fmops.cli", *stage]


def run(args: argparse.Namespace) -> int:
    stage = [part for part in args.stage if part != "--"] if args.stage[:1] == ["--"] else list(args.stage)
    if not stage:
        raise InputError("launch: no stage given (usage: fmops launch [options] -- STAGE ...)")
    if args.nodes < 1 or args.gpus_per_node < 1:
        raise InputError("launch: --nodes and --gpus-per-node must be at least 1")
    if args.nodes * args.gpus_per_node == 1 or "LOCAL_RANK" in os.environ:
        # one process, or already one of torchrun's processes (fmops run maps a PyTorchJob to torchrun)
        from fmops.cli import main

        return main(stage)
    command = accelerate_command(args, stage)
    os.execvp(command[0], command)  # replaces this process: signals and exit status pass straight through
    return 1  # unreachable
