"""The training function `fmops pretrain` runs (and `fmops bench pretrain` measures): `train()`.

Written on `accelerate` rather than transformers' `Trainer`, for three reasons the Trainer does not serve:
per-step losses must be exact floats (the kill-and-resume test compares them within 1e-6; the Trainer logs
rounded running means), checkpoints must be atomic and may live on s3:// (checkpoint.py; the Trainer writes
`checkpoint-N/` in place on a local disk), and the GPU path must beat the tuned Trainer's throughput (pretraining
is where the GPU hours go, and `fmops bench pretrain` measures the two side by side), which a plain loop over
`accelerate` (DDP/FSDP2/DeepSpeed from its config, mixed precision, no per-step callback machinery) allows.
Its settings still carry the Trainer's names (config.py). Everything else is the field's: transformers models
and LR schedules, torch's AdamW, torch.distributed.checkpoint (checkpoint.py).

One optimizer step consumes max_length × per_device_train_batch_size × gradient_accumulation_steps × world_size
tokens; which blocks it trains on is a pure function of the step (sampling.Stream), so resuming needs no
data-loader state. The micro-batches of one step run under `accelerator.accumulate`, so DDP all-reduces and
DeepSpeed steps once per optimizer step, not once per micro-batch.

The speed settings (speed.py) are applied to the model before `accelerator.prepare`; the optimizer is built
once the model is on its device, so fused AdamW is what a GPU run uses. The host never waits for the device
inside a step: each step's loss and gradient norm stay device tensors and are read back together every
logging_steps (and before a checkpoint), one sync per interval. A step's `seconds` is therefore its launch
time, plus on a read-back step the wait for the queued work: sums over the steps between read-backs are exact,
single steps on a GPU are not. The state is typed (state.py): a `TrainState`, and one `StepRecord` per step.
Each read-back logs a line: loss, lr, tokens/s, MFU where the GPU's peak is known, and the peak memory.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from fmops.core.errors import InputError
from fmops.training import checkpoint, flops, metrics, schedules, speed
from fmops.training.config import TrainConfig
from fmops.training.sampling import Stream
from fmops.training.state import StepRecord, TrainState


def log(accelerator: Any, message: str, all_ranks: bool = False) -> None:
    if all_ranks or accelerator.is_main_process:
        prefix = f"[rank {accelerator.process_index}] " if accelerator.num_processes > 1 else ""
        print(f"{prefix}{message}", file=sys.stderr, flush=True)


def optimizer_for(model: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW with weight decay on matrices only (not norms, biases), fused on a CUDA device.

    Off CUDA it stays torch's default (foreach): the CPU runs' numbers were made with it."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=config.learning_rate, betas=(config.adam_beta1, config.adam_beta2), **fused)


def to_device(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Host to device through pinned memory without blocking the host (on CUDA; elsewhere a plain move)."""
    if device.type != "cuda":
        return batch.to(device)
    return batch.pin_memory().to(device, non_blocking=True)


@torch.no_grad()
def evaluate(model: torch.nn.Module, blocks: torch.Tensor, config: TrainConfig, device: torch.device) -> float:
    """Mean token loss over up to `eval_blocks` blocks (every rank evaluates the same blocks)."""
    model.eval()
    blocks = blocks[: config.eval_blocks]
    total = 0.0
    for start in range(0, len(blocks), config.per_device_train_batch_size):
        batch = to_device(blocks[start : start + config.per_device_train_batch_size], device)
        total += model(input_ids=batch, labels=batch, use_cache=False).loss.float().item() * len(batch)
    model.train()
    return total / len(blocks)


def evaluate_all(model: Any, evals: dict[str, torch.Tensor], config: TrainConfig, device: Any, step: int) -> dict:
    return {"step": step, **{key: evaluate(model, blocks, config, device) for key, blocks in evals.items()}}


def train_step(
    model: Any, optimizer: Any, scheduler: Any, stream: Stream, step: int, config: TrainConfig, accelerator: Any
) -> tuple[StepRecord, int]:
    """One optimizer step: (its record, with the loss and gradient norm still on the device; this rank's tokens)."""
    world, rank, micro = accelerator.num_processes, accelerator.process_index, config.per_device_train_batch_size
    first_sample = step * micro * config.gradient_accumulation_steps * world
    total, rank_tokens = torch.zeros((), device=accelerator.device), 0
    for m in range(config.gradient_accumulation_steps):
        start = first_sample + (m * world + rank) * micro
        batch = to_device(stream.batch(start, micro), accelerator.device)
        with accelerator.accumulate(model):  # no gradient sync (DDP) or engine step (DeepSpeed) before the last
            loss = model(input_ids=batch, labels=batch, use_cache=False).loss
            accelerator.backward(loss)  # divides by gradient_accumulation_steps
        total += loss.detach().float()
        rank_tokens += batch.numel()
    clip = config.max_grad_norm
    grad_norm = accelerator.clip_grad_norm_(model.parameters(), clip) if clip else None
    lr = scheduler.get_last_lr()[0]
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    record = StepRecord(
        step=step + 1,
        lr=lr,
        tokens=config.tokens_per_step(world),
        first=False,
        pending_loss=total / config.gradient_accumulation_steps,
        pending_grad_norm=grad_norm,
    )
    return record, rank_tokens


def read_back(records: list[StepRecord], accelerator: Any) -> None:
    """Fill the records' float loss and grad_norm from their device tensors: one all-reduce and one host sync for
    all of them; the list is emptied."""
    if not records:
        return
    losses = accelerator.reduce(torch.stack([r.pending_loss for r in records]), reduction="mean").tolist()
    for record, loss in zip(records, losses, strict=True):
        norm = record.pending_grad_norm
        record.loss, record.grad_norm = loss, (float(norm) if norm is not None else None)
        record.pending_loss = record.pending_grad_norm = None
    records.clear()


def fill_deepspeed(deepspeed_config: dict[str, Any], config: TrainConfig) -> None:
    """The DeepSpeed config's `auto` values that accelerate would take from a data loader, which this loop does
    not use, and the clipping, which the DeepSpeed engine does itself (max_grad_norm 0 is off there too)."""
    filled = {
        "train_micro_batch_size_per_gpu": config.per_device_train_batch_size,
        "gradient_clipping": config.max_grad_norm,
    }
    for key, value in filled.items():
        if deepspeed_config.get(key, "auto") == "auto":
            deepspeed_config[key] = value


def prepare(model: Any, config: TrainConfig, accelerator: Any) -> tuple[Any, Any, Any]:
    """(model, optimizer, scheduler), prepared; the optimizer is built on the parameters on their device."""
    from accelerate.utils import DistributedType

    # DeepSpeed's `auto` gradient_accumulation_steps is filled from this; accumulate() counts micro-batches by it
    accelerator.gradient_accumulation_steps = config.gradient_accumulation_steps
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        fill_deepspeed(accelerator.state.deepspeed_plugin.deepspeed_config, config)
    sharded = accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)
    if not sharded:  # FSDP and DeepSpeed shard the optimizer's parameters: they need both in one prepare call
        model = accelerator.prepare(model)
    optimizer = optimizer_for(model, config, accelerator.device)
    steps = config.total_steps(accelerator.num_processes)
    scheduler = schedules.build(
        optimizer,
        config.lr_scheduler_type,
        steps=steps,
        warmup=schedules.warmup(steps, config.warmup_steps),
        min_lr_ratio=config.min_lr_ratio,
        decay_ratio=config.decay_ratio,
    )
    if sharded:
        model, optimizer = accelerator.prepare(model, optimizer)
    else:
        optimizer = accelerator.prepare(optimizer)
    if accelerator.gradient_accumulation_steps != config.gradient_accumulation_steps:
        raise InputError(
            f"gradient_accumulation_steps={config.gradient_accumulation_steps}: the DeepSpeed config says "
            f"{accelerator.gradient_accumulation_steps}; set it to `auto` there"
        )
    return model, optimizer, scheduler


def progress_line(step: int, steps: int, recent: list[StepRecord], flops_per_token: float, accelerator: Any) -> str:
    """The live log line: loss and lr of `recent[-1]`, throughput over `recent`, MFU (only where the device's peak
    is known: flops.py) and the peak memory so far (CUDA's max allocated on a GPU, the process's peak RSS on CPU)."""
    last = recent[-1]
    per_second = sum(r.tokens for r in recent) / sum(r.seconds for r in recent)
    line = f"step {step}/{steps} loss {last.loss:.4f} lr {last.lr:.2e} {per_second:,.0f} tokens/s"
    device = metrics.device_name(accelerator.device)
    mfu = flops.mfu(per_second / accelerator.num_processes, flops_per_token, device)
    if mfu is not None:
        line += f" mfu {mfu:.1%}"
    gib, kind = metrics.peak_memory(accelerator.device)
    return line + f" peak memory {gib:.2f} GiB ({metrics.MEMORY_KINDS[kind]})"


def train(
    model: torch.nn.Module,
    stream: Stream,
    config: TrainConfig,
    accelerator: Any,
    *,
    evals: dict[str, torch.Tensor] | None = None,
    checkpoint_root: str | None = None,
    resume_from: str | None = None,
    add_files: Callable[[Path], None] | None = None,
    at_stable_end: Callable[[Any], None] | None = None,
) -> tuple[Any, TrainState]:
    """Train `model` for config.total_steps(); returns (the prepared model, the state with all metrics history).

    evals: name -> held-out blocks, each evaluated at step 0, every eval_steps steps and at the end.
    checkpoint_root: where checkpoints go (None: no checkpoints); resume_from: a checkpoint URI to continue.
    at_stable_end: called with the model on every rank after the last step of a warmup_stable_decay plateau
    (before that step's checkpoint, so a run resumed past it has already called it).
    """
    steps = config.total_steps(accelerator.num_processes)
    stable_step = schedules.stable_end(config.lr_scheduler_type, steps, config.warmup_steps, config.decay_ratio)
    speed.flush_denormals(accelerator.device)
    flops_per_token = flops.model_flops_per_token(model, config.max_length)
    model, optimizer, scheduler = prepare(speed.speed_up(model, config, accelerator.device), config, accelerator)
    training = (model, optimizer, scheduler)
    state = start_state(accelerator, resume_from, training, steps)
    evals = evals or {}
    if state.step == 0 and evals:
        state.evals.append(evaluate_all(model, evals, config, accelerator.device, 0))
    model.train()
    first, unread = True, []
    while state.step < steps:
        started = time.perf_counter()
        record, rank_tokens = train_step(model, optimizer, scheduler, stream, state.step, config, accelerator)
        record.first, first = first, False
        state.step = step = record.step
        state.tokens_per_rank += rank_tokens
        state.history.append(record)
        unread.append(record)
        if at_stable_end and step == stable_step:
            at_stable_end(model)
        saving = bool(checkpoint_root and config.save_steps and step % config.save_steps == 0)
        logging = step % config.logging_steps == 0 or step == steps
        if logging or saving:
            interval = len(unread)
            read_back(unread, accelerator)  # the checkpointed state holds floats only
        record.seconds = time.perf_counter() - started
        if logging:
            log(accelerator, progress_line(step, steps, state.history[-interval:], flops_per_token, accelerator))
        if evals and ((config.eval_steps and step % config.eval_steps == 0) or step == steps):
            state.evals.append(evaluate_all(model, evals, config, accelerator.device, step))
            log(accelerator, "eval " + " ".join(f"{k} {v:.4f}" for k, v in state.evals[-1].items() if k != "step"))
        if saving:
            uri = checkpoint.save(
                accelerator, checkpoint_root, step, state, training, add_files, config.save_total_limit
            )
            log(accelerator, f"checkpoint {uri}")
    log(accelerator, f"trained {state.tokens_per_rank:,} tokens on this rank", all_ranks=True)
    return model, state


def start_state(accelerator: Any, resume_from: str | None, training: tuple[Any, Any, Any], steps: int) -> TrainState:
    """A fresh state, or the one of the checkpoint at `resume_from` (restoring model, optimizer and scheduler)."""
    state = TrainState()
    if resume_from is not None:
        state = checkpoint.load(accelerator, resume_from, training)
        state.resumed_at.append(state.step)
        log(accelerator, f"resumed from {resume_from} at step {state.step} of {steps}")
    torch_optimizer = getattr(training[1], "optimizer", training[1])  # inside accelerate's wrapper
    state.optimizer, state.fused = type(torch_optimizer).__name__, bool(torch_optimizer.defaults.get("fused"))
    return state
