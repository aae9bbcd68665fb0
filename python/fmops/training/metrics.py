"""Training metrics as a component: throughput, MFU, peak memory, loss summaries; written as metrics.json.

Usable by every training stage. `summarize()` turns the loop's state (per-step history and evaluations)
into the flat, stable names a stage documents and Argo reads as output parameters
(fmops.core.manifest.write_metrics writes them).
"""

from __future__ import annotations

import resource
import sys
from typing import Any

from fmops.training import flops


def device_name(device: Any) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({sys.platform})"


def peak_memory(device: Any) -> tuple[float, str]:
    """(GiB, what was measured): CUDA's max allocated on GPU; the process's peak resident set on CPU."""
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30, "cuda_max_memory_allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**30 if sys.platform == "darwin" else 2**20), "process_max_rss"


def steady_throughput(history: list[dict[str, Any]]) -> tuple[int, float]:
    """(tokens, seconds) over the steps after the first of each process start (compile and warm-up)."""
    steady = [h for h in history if not h.get("first")] or history
    return sum(h["tokens"] for h in steady), sum(h["seconds"] for h in steady)


def summarize(
    state: dict[str, Any], *, flops_per_token: float, device: str, world_size: int, memory: tuple[float, str]
) -> dict[str, Any]:
    history, evals = state["history"], state["evals"]
    tokens, seconds = steady_throughput(history)
    tokens_per_s = tokens / seconds if seconds else 0.0
    per_device = tokens_per_s / world_size
    mfu = flops.mfu(per_device, flops_per_token, device)
    last = history[-10:]
    return {
        "steps": state["step"],
        "tokens": sum(h["tokens"] for h in history),
        "train_loss": sum(h["loss"] for h in last) / len(last) if last else None,
        "eval_loss_start": evals[0]["eval_loss"] if evals else None,
        "eval_loss": evals[-1]["eval_loss"] if evals else None,
        "replay_loss_start": evals[0].get("replay_loss") if evals else None,
        "replay_loss": evals[-1].get("replay_loss") if evals else None,
        "tokens_per_s": tokens_per_s,
        "tokens_per_s_per_device": per_device,
        "flops_per_token": flops_per_token,
        "mfu": mfu,
        "mfu_note": flops.mfu_note(device),
        "peak_memory_gib": memory[0],
        "peak_memory_kind": memory[1],
        "device": device,
        "world_size": world_size,
        "optimizer": state.get("optimizer"),
        "fused": state.get("fused"),
        "train_seconds": sum(h["seconds"] for h in history),
        "history": history,
        "evals": evals,
    }
