"""The training function `fmops pretrain` runs (and `fmops bench pretrain` measures): `train()`.

Written on `accelerate` rather than transformers' `Trainer`, for three reasons the Trainer does not serve:
per-step losses must be exact floats (the kill-and-resume test compares them within 1e-6; the Trainer logs
rounded running means), checkpoints must be atomic and may live on s3:// (checkpoint.py; the Trainer writes
`checkpoint-N/` in place on a local disk), and the GPU path must beat the tuned Trainer's throughput (pretraining
is where the GPU hours go, and `fmops bench pretrain` measures the two side by side), which a plain loop over
`accelerate` (DDP/FSDP2/DeepSpeed from its config, mixed precision, no per-step callback machinery) allows.
Its settings still carry the Trainer's names (config.py). Everything else is the field's: transformers models
and LR schedules, torch's AdamW, accelerate's state saving.

One optimizer step consumes max_length × per_device_train_batch_size × gradient_accumulation_steps × world_size
tokens; which blocks it trains on
is a pure function of the step (sampling.Stream), so resuming needs no data-loader state.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from fmops.training import checkpoint, schedules
from fmops.training.config import TrainConfig
from fmops.training.sampling import Stream


def log(accelerator: Any, message: str, all_ranks: bool = False) -> None:
    if all_ranks or accelerator.is_main_process:
        prefix = f"[rank {accelerator.process_index}] " if accelerator.num_processes > 1 else ""
        print(f"{prefix}{message}", file=sys.stderr, flush=True)


def optimizer_for(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with weight decay on matrices only (not norms, biases), fused on GPU."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = {"fused": True} if next(model.parameters()).is_cuda else {}
    return torch.optim.AdamW(groups, lr=config.learning_rate, betas=(config.adam_beta1, config.adam_beta2), **fused)


@torch.no_grad()
def evaluate(model: torch.nn.Module, blocks: torch.Tensor, config: TrainConfig, device: torch.device) -> float:
    """Mean token loss over up to `eval_blocks` blocks (every rank evaluates the same blocks)."""
    model.eval()
    blocks = blocks[: config.eval_blocks]
    total = 0.0
    for start in range(0, len(blocks), config.per_device_train_batch_size):
        batch = blocks[start : start + config.per_device_train_batch_size].to(device)
        total += model(input_ids=batch, labels=batch).loss.float().item() * len(batch)
    model.train()
    return total / len(blocks)


def evaluate_all(model: Any, evals: dict[str, torch.Tensor], config: TrainConfig, device: Any, step: int) -> dict:
    return {"step": step, **{key: evaluate(model, blocks, config, device) for key, blocks in evals.items()}}


def train_step(
    model: Any, optimizer: Any, scheduler: Any, stream: Stream, step: int, config: TrainConfig, accelerator: Any
) -> dict[str, float]:
    world, rank, micro = accelerator.num_processes, accelerator.process_index, config.per_device_train_batch_size
    first_sample = step * micro * config.gradient_accumulation_steps * world
    total, rank_tokens = torch.zeros((), device=accelerator.device), 0
    for m in range(config.gradient_accumulation_steps):
        start = first_sample + (m * world + rank) * micro
        batch = stream.batch(start, micro).to(accelerator.device)
        sync = m == config.gradient_accumulation_steps - 1
        with contextlib.nullcontext() if sync else accelerator.no_sync(model):
            loss = model(input_ids=batch, labels=batch).loss
            accelerator.backward(loss / config.gradient_accumulation_steps)
        total += loss.detach().float()
        rank_tokens += batch.numel()
    clip = config.max_grad_norm
    grad_norm = accelerator.clip_grad_norm_(model.parameters(), clip) if clip else None
    lr = scheduler.get_last_lr()[0]
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    loss = accelerator.reduce(total / config.gradient_accumulation_steps, reduction="mean")
    norm = float(grad_norm) if grad_norm is not None else None
    return {"loss": loss.item(), "lr": lr, "grad_norm": norm, "rank_tokens": rank_tokens}


def train(
    model: torch.nn.Module,
    stream: Stream,
    config: TrainConfig,
    accelerator: Any,
    *,
    evals: dict[str, torch.Tensor] | None = None,
    checkpoint_root: str | None = None,
    resume_from: Path | None = None,
    add_files: Callable[[Path], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train `model` for config.total_steps(); returns (the prepared model, the state with all metrics history).

    evals: name -> held-out blocks, each evaluated at step 0, every eval_steps steps and at the end.
    checkpoint_root: where checkpoints go (None: no checkpoints); resume_from: a local checkpoint to continue.
    """
    steps = config.total_steps(accelerator.num_processes)
    optimizer = optimizer_for(model, config)
    warmup = schedules.warmup(steps, config.warmup_steps)
    scheduler = schedules.build(
        optimizer, config.lr_scheduler_type, steps=steps, warmup=warmup,
        min_lr_ratio=config.min_lr_ratio, decay_ratio=config.decay_ratio,
    )  # fmt: skip
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    state: dict[str, Any] = {"step": 0, "history": [], "evals": [], "tokens_per_rank": 0}
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        state = checkpoint.read_state(resume_from)
        state.setdefault("resumed_at", []).append(state["step"])
        log(accelerator, f"resumed from {resume_from.name} at step {state['step']} of {steps}")
    evals = evals or {}
    if state["step"] == 0 and evals:
        state["evals"].append(evaluate_all(model, evals, config, accelerator.device, 0))
    tokens_per_step = config.tokens_per_step(accelerator.num_processes)
    model.train()
    first = True
    while state["step"] < steps:
        started = time.perf_counter()
        record = train_step(model, optimizer, scheduler, stream, state["step"], config, accelerator)
        state["step"] += 1
        state["tokens_per_rank"] += record.pop("rank_tokens")
        seconds = time.perf_counter() - started
        record.update(step=state["step"], tokens=tokens_per_step, seconds=seconds, first=first)
        state["history"].append(record)
        first = False
        step = state["step"]
        if step % config.logging_steps == 0 or step == steps:
            log(accelerator, f"step {step}/{steps} loss {record['loss']:.4f} lr {record['lr']:.2e} "
                             f"{tokens_per_step / seconds:,.0f} tokens/s")  # fmt: skip
        if evals and ((config.eval_steps and step % config.eval_steps == 0) or step == steps):
            state["evals"].append(evaluate_all(model, evals, config, accelerator.device, step))
            log(accelerator, "eval " + " ".join(f"{k} {v:.4f}" for k, v in state["evals"][-1].items() if k != "step"))
        if checkpoint_root and config.save_steps and step % config.save_steps == 0:
            uri = checkpoint.save(accelerator, checkpoint_root, step, state, add_files, config.save_total_limit)
            log(accelerator, f"checkpoint {uri}")
    log(accelerator, f"trained {state['tokens_per_rank']:,} tokens on this rank", all_ranks=True)
    return model, state
