"""Measure all-reduce bus bandwidth across every process of a torchrun job (NCCL on GPUs, gloo on CPU).

    torchrun --nproc_per_node 8 -m fmops.cli allreduce --size-mb 256
    # in a PyTorchJob, torchrun reads PET_NNODES, PET_NODE_RANK, PET_MASTER_ADDR from the operator

Bus bandwidth follows nccl-tests: algbw = bytes / time, busbw = algbw * 2 (n - 1) / n, so the number is
comparable with the hardware's link bandwidth whatever the process count.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from fmops.core import manifest, storage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size-mb", type=float, default=256.0, help="message size in MiB")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations (after 5 warm-up)")
    parser.add_argument("--output", default="", help="URI to write metrics.json and manifest.json to (rank 0)")


def run(args: argparse.Namespace) -> int:
    import torch
    import torch.distributed as dist

    started_at = manifest.now()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if backend == "nccl" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    tensor = torch.ones(int(args.size_mb * 2**20) // 4, dtype=torch.float32, device=device)
    for _ in range(5):
        dist.all_reduce(tensor)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    synchronize()
    start = time.perf_counter()
    for _ in range(args.iters):
        dist.all_reduce(tensor)
    synchronize()
    seconds = (time.perf_counter() - start) / args.iters
    algbw = tensor.numel() * 4 / seconds / 1e9
    result = {"backend": backend, "world_size": world, "size_mb": args.size_mb, "seconds": seconds,
              "algbw_gbps": algbw, "busbw_gbps": algbw * 2 * (world - 1) / world}  # fmt: skip
    if rank == 0:
        print(json.dumps(result), flush=True)
        if args.output:
            storage.write_json(storage.join(args.output, manifest.METRICS), result)
            manifest.write(
                args.output,
                stage="allreduce",
                inputs={},
                config=vars(args) | {"world_size": world},
                metrics=result,
                started_at=started_at,
            )
    dist.destroy_process_group()
    return 0
