"""Measure all-reduce bus bandwidth across every process of a torchrun job (NCCL on GPUs, gloo on CPU).

    torchrun --nproc_per_node 8 -m fmops.cli allreduce --size-mb 256
    # in a PyTorchJob, torchrun reads PET_NNODES, PET_NODE_RANK, PET_MASTER_ADDR from the operator

Rank 0 prints one JSON line (backend, world_size, size_mb, seconds, algbw_gbps, busbw_gbps) and, with
--output, writes it as metrics.json with a manifest.json. Bus bandwidth follows nccl-tests:
busbw = algbw * 2 (n - 1) / n, comparable with the hardware's link bandwidth whatever the process count.
With --min-busbw-gbps it exits 1, after writing its outputs, when the bus bandwidth is below that floor.
"""

from __future__ import annotations

import argparse

from fmops.steps.allreduce import allreduce


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size-mb", type=float, default=256.0, help="message size in MiB")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations (after 5 warm-up)")
    parser.add_argument("--output", default="", help="URI to write metrics.json and manifest.json to (rank 0)")
    parser.add_argument("--min-busbw-gbps", type=float, default=0.0,
                        help="fail (exit 1) when the bus bandwidth is below this many GB/s; 0: no floor")


def run(args: argparse.Namespace) -> int:
    allreduce(size_mb=args.size_mb, iters=args.iters, output=args.output, min_busbw_gbps=args.min_busbw_gbps)
    return 0
