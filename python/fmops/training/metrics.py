"""Training metrics as a component: throughput, MFU, peak memory, loss summaries; written as metrics.json.

Usable by every training stage. `summarize()` turns the loop's state (per-step history and evaluations)
into the flat, stable names a stage documents and Argo reads as output parameters
(fmops.core.manifest.write_metrics writes them).
"""

from __future__ import annotations

import resource
import sys
from typing import Any, TypedDict

from fmops.training import flops
from fmops.training.state import StepRecord, TrainState

# peak_memory_kind -> how the live log line names it
MEMORY_KINDS = {"cuda_max_memory_allocated": "CUDA max allocated", "process_max_rss": "process peak RSS"}


class PretrainMetrics(TypedDict):
    """metrics.json of `fmops pretrain` (also its manifest's metrics; Argo reads the scalars as output parameters)."""

    steps: int  # optimizer steps trained (the last step reached, resumes included)
    tokens: int  # tokens trained, all ranks, over `history`
    train_loss: float | None  # mean loss of the last 10 steps
    eval_loss_start: float | None  # held-out loss of the new data before training, nats/token
    eval_loss: float | None  # held-out loss of the new data at the end, nats/token
    unigram_entropy: float  # of the training tokens, nats/token: eval_loss below it learned more than frequencies
    replay_loss_start: float | None  # held-out loss of --replay before training (null without --replay)
    replay_loss: float | None  # held-out loss of --replay at the end (null without --replay)
    forgetting: float | None  # replay_loss - replay_loss_start: the forgetting signal (null without --replay)
    tokens_per_s: float  # all ranks, over the steps after the first of each process
    tokens_per_s_per_device: float  # tokens_per_s / world_size
    flops_per_token: float  # 6N + 12·L·H·Q·T (flops.py)
    mfu: float | None  # model FLOPs utilisation; null off a GPU of flops.py's peak table
    mfu_note: str  # the peak mfu is measured against, or why there is no mfu
    peak_memory_gib: float  # peak memory of rank 0, GiB
    peak_memory_kind: str  # what peak_memory_gib measured: cuda_max_memory_allocated or process_max_rss
    device: str  # the device's name (torch's CUDA name, or `cpu (<platform>)`)
    world_size: int  # processes (ranks) that trained
    optimizer: str | None  # the torch optimizer class (AdamW)
    fused: bool | None  # whether its fused kernel ran (on CUDA)
    tokens_per_rank: list[int]  # tokens each rank trained in this process (not before a resume)
    parameters: int  # the model's parameters
    train_seconds: float  # sum of the steps' seconds
    resumed_at: list[int]  # the steps reruns resumed from
    history: list[dict[str, Any]]  # per step: step, loss, lr, grad_norm, tokens, seconds, first (StepRecord)
    evals: list[dict[str, float]]  # per evaluation: step, eval_loss, replay_loss (with --replay)


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


def steady_throughput(history: list[StepRecord]) -> tuple[int, float]:
    """(tokens, seconds) over the steps after the first of each process start (compile and warm-up)."""
    steady = [h for h in history if not h.first] or history
    return sum(h.tokens for h in steady), sum(h.seconds for h in steady)


def summarize(
    state: TrainState, *, flops_per_token: float, device: str, world_size: int, memory: tuple[float, str]
) -> dict[str, Any]:
    """The fields of PretrainMetrics that the loop's state and the device give (the stage adds the rest)."""
    history, evals = state.history, state.evals
    tokens, seconds = steady_throughput(history)
    tokens_per_s = tokens / seconds if seconds else 0.0
    per_device = tokens_per_s / world_size
    mfu = flops.mfu(per_device, flops_per_token, device)
    last = history[-10:]
    return {
        "steps": state.step,
        "tokens": sum(h.tokens for h in history),
        "train_loss": sum(h.loss for h in last) / len(last) if last else None,
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
        "optimizer": state.optimizer,
        "fused": state.fused,
        "train_seconds": sum(h.seconds for h in history),
        "history": [h.as_dict() for h in history],
        "evals": evals,
    }
