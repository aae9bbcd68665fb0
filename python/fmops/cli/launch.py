"""Run a stage on one process, or on many under `accelerate launch` (DDP, FSDP2 or ZeRO-3).

    fmops launch --gpus-per-node 8 --strategy fsdp2 -- pretrain --model s3://b/base --data s3://b/new ...

The WorkflowTemplates call every training stage through this command, so one template line serves a laptop
(one process: the stage runs in-process), an 8-GPU node, and every node of a Kubeflow PyTorchJob (the
training operator sets MASTER_ADDR, MASTER_PORT and RANK, the node's rank, in each pod).
"""

from __future__ import annotations

import argparse

from fmops.steps.launch import STRATEGIES, launch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=1, help="number of nodes (PyTorchJob replicas)")
    parser.add_argument("--gpus-per-node", type=int, default=1, help="processes per node, one per GPU")
    parser.add_argument("--strategy", choices=STRATEGIES, default="ddp", help="how to shard across processes")
    parser.add_argument("stage", nargs=argparse.REMAINDER, help="-- STAGE [stage arguments]")


def run(args: argparse.Namespace) -> int:
    from fmops.cli import main  # the stage runs through this same entry, in this process when it is one

    stage = args.stage[1:] if args.stage[:1] == ["--"] else list(args.stage)
    return launch(stage=stage, nodes=args.nodes, gpus_per_node=args.gpus_per_node, strategy=args.strategy,
                  run_in_place=main)  # fmt: skip
