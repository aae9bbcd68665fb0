"""Measure all-reduce bus bandwidth across every process of a torchrun job (NCCL on GPUs, gloo on CPU).

Bus bandwidth follows nccl-tests: algbw = bytes / time, busbw = algbw * 2 (n - 1) / n, so the number is
comparable with the hardware's link bandwidth whatever the process count.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from fmops.core import manifest
from fmops.core.errors import InputError

WARMUP = 5


class BandwidthError(RuntimeError):
    """The measured bus bandwidth is below the floor asked for (exit 1: the cluster, not the input)."""


def allreduce(
    *, size_mb: float = 256.0, iters: int = 20, output: str = "", min_busbw_gbps: float = 0.0
) -> dict[str, Any]:
    """Time `iters` all-reduces of `size_mb` MiB (after WARMUP untimed ones) and return the metrics; rank 0
    prints them and, with `output`, writes metrics.json and manifest.json there. Call it on every process.
    With `min_busbw_gbps`, a bus bandwidth below it raises BandwidthError after the outputs are written: on
    EFA instances that is what a fallback of NCCL to TCP sockets looks like."""
    if min_busbw_gbps < 0:
        raise InputError(f"allreduce: --min-busbw-gbps {min_busbw_gbps:g}: expected 0 (no floor) or more")
    if size_mb <= 0:
        raise InputError(f"allreduce: --size-mb {size_mb:g}: expected a size above 0")
    if iters < 1:
        raise InputError(f"allreduce: --iters {iters}: expected at least 1")
    import torch
    import torch.distributed as dist

    started_at = manifest.now()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if backend == "nccl" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    tensor = torch.ones(int(size_mb * 2**20) // 4, dtype=torch.float32, device=device)
    for _ in range(WARMUP):
        dist.all_reduce(tensor)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        dist.all_reduce(tensor)
    synchronize()
    seconds = (time.perf_counter() - start) / iters
    algbw = tensor.numel() * 4 / seconds / 1e9
    result = {
        "backend": backend,
        "world_size": world,
        "size_mb": size_mb,
        "seconds": seconds,
        "algbw_gbps": algbw,
        "busbw_gbps": algbw * 2 * (world - 1) / world,
    }
    if rank == 0:
        print(json.dumps(result), flush=True)
        if output:
            manifest.write_metrics(output, result)
            config = {"size_mb": size_mb, "iters": iters, "output": output, "world_size": world}
            manifest.write(output, stage="allreduce", inputs={}, config=config, metrics=result, started_at=started_at)
    dist.destroy_process_group()
    if result["busbw_gbps"] < min_busbw_gbps:
        raise BandwidthError(
            f"allreduce: bus bandwidth {result['busbw_gbps']:.1f} GB/s is below the floor "
            f"{min_busbw_gbps:g} GB/s: check the NCCL INFO NET/ lines of the log for the "
            "transport (NET/OFI with provider efa expected, NET/Socket means TCP)"
        )
    return result
