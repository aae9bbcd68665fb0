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

The speed settings (config.py's block: tf32, attention implementation, Liger kernels, activation checkpointing,
torch.compile) are applied to the model before `accelerator.prepare`; the optimizer is built once the model is on
its device, so fused AdamW is what a GPU run uses. The host never waits for the device inside a step: each step's
loss and gradient norm stay device tensors and are read back together every logging_steps (and before a
checkpoint), one sync per interval. A step's `seconds` is therefore its launch time, plus on a read-back step the
wait for the queued work: sums over the steps between read-backs are exact, single steps on a GPU are not.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from fmops.core.errors import InputError
from fmops.training import checkpoint, schedules
from fmops.training.config import TrainConfig
from fmops.training.sampling import Stream


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


# The Llama-shaped families Liger patches the same way (fused linear cross-entropy, RMSNorm, SwiGLU, RoPE).
LIGER_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3")


def _saved_ops() -> set[Any]:
    """Selective checkpointing keeps these outputs (the expensive ones) and recomputes everything else."""
    names = ("mm", "addmm", "bmm", "_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention",
             "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_flash_attention_for_cpu")  # fmt: skip
    return {getattr(torch.ops.aten, name).default for name in names if hasattr(torch.ops.aten, name)}


def _selective_policy(saved: set[Any], ctx: Any, op: Any, *args: Any, **kwargs: Any) -> Any:
    from torch.utils.checkpoint import CheckpointPolicy

    return CheckpointPolicy.MUST_SAVE if op in saved else CheckpointPolicy.PREFER_RECOMPUTE


def transformer_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The decoder layers (every transformers decoder layer is a GradientCheckpointingLayer)."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]


def speed_up(model: Any, config: TrainConfig, device: torch.device) -> Any:
    """Apply config's speed settings to `model` in place (parameter names unchanged); InputError when one cannot
    run here. Order matters: Liger replaces modules that checkpointing and compile then wrap."""
    config.check_installed()
    cuda = device.type == "cuda"
    for asked, name in ((config.liger, "liger=true"), (config.attn_implementation == "flash_attention_2",
                                                        "attn_implementation=flash_attention_2")):  # fmt: skip
        if asked and not cuda:
            raise InputError(f"{name}: needs a CUDA GPU; this run is on {device.type}")
    if cuda and (config.tf32 is None or config.tf32):
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if config.attn_implementation:
        model.set_attn_implementation(config.attn_implementation)
    if config.liger:
        kind = model.config.model_type
        if kind not in LIGER_MODEL_TYPES:
            raise InputError(f"liger=true: model type {kind!r} is not one of {', '.join(LIGER_MODEL_TYPES)}")
        import liger_kernel.transformers as liger

        getattr(liger, f"apply_liger_kernel_to_{kind}")(model=model)
    if config.activation_checkpointing != "none":
        kwargs: dict[str, Any] = {"use_reentrant": False}
        if config.activation_checkpointing == "selective":
            from torch.utils.checkpoint import create_selective_checkpoint_contexts

            policy = functools.partial(_selective_policy, _saved_ops())
            kwargs["context_fn"] = functools.partial(create_selective_checkpoint_contexts, policy)
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    if config.torch_compile:
        blocks = transformer_blocks(model) if config.torch_compile_scope == "blocks" else [model]
        if not blocks:
            raise InputError(f"torch_compile_scope=blocks: {type(model).__name__} has no transformer blocks to "
                             "compile one by one; use torch_compile_scope=model")  # fmt: skip
        for block in blocks:
            block.compile()  # in place: the module keeps its name in the state dict (no `_orig_mod.`)
    return model


def flush_denormals(device: torch.device) -> None:
    """On a CPU, treat subnormal floats as zero (FTZ/DAZ) for this process.

    x86 arithmetic on subnormals is many times slower than on normal floats, and a model that sharpens as it
    trains produces more of them inside a step (the weights and AdamW state of the demo run hold none at step
    2000, so they come from activations and gradients, such as softmax tails): the tiny model's demo pretraining
    fell from 18.5k to 14.5k tokens/s between steps 400 and 2400, and holds 17.5k with this set. Values below
    1.2e-38 carry nothing a float32 update needs.
    """
    if device.type == "cpu":
        torch.set_flush_denormal(True)


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
) -> dict[str, Any]:
    """One optimizer step; `loss` and `grad_norm` come back as device tensors (read_back() makes them floats)."""
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
    return {"loss": total / config.gradient_accumulation_steps, "lr": lr, "grad_norm": grad_norm,
            "rank_tokens": rank_tokens}  # fmt: skip


def read_back(records: list[dict[str, Any]], accelerator: Any) -> None:
    """Turn the records' device tensors into floats in place: one all-reduce and one host sync for all of them."""
    if not records:
        return
    losses = accelerator.reduce(torch.stack([r["loss"] for r in records]), reduction="mean").tolist()
    for record, loss in zip(records, losses, strict=True):
        norm = record["grad_norm"]
        record.update(loss=loss, grad_norm=float(norm) if norm is not None else None)
    records.clear()


def fill_deepspeed(deepspeed_config: dict[str, Any], config: TrainConfig) -> None:
    """The DeepSpeed config's `auto` values that accelerate would take from a data loader, which this loop does
    not use, and the clipping, which the DeepSpeed engine does itself (max_grad_norm 0 is off there too)."""
    for key, value in (("train_micro_batch_size_per_gpu", config.per_device_train_batch_size),
                       ("gradient_clipping", config.max_grad_norm)):  # fmt: skip
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
        optimizer, config.lr_scheduler_type, steps=steps, warmup=schedules.warmup(steps, config.warmup_steps),
        min_lr_ratio=config.min_lr_ratio, decay_ratio=config.decay_ratio,
    )  # fmt: skip
    if sharded:
        model, optimizer = accelerator.prepare(model, optimizer)
    else:
        optimizer = accelerator.prepare(optimizer)
    if accelerator.gradient_accumulation_steps != config.gradient_accumulation_steps:
        raise InputError(f"gradient_accumulation_steps={config.gradient_accumulation_steps}: the DeepSpeed config "
                         f"says {accelerator.gradient_accumulation_steps}; set it to `auto` there")  # fmt: skip
    return model, optimizer, scheduler


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
) -> tuple[Any, dict[str, Any]]:
    """Train `model` for config.total_steps(); returns (the prepared model, the state with all metrics history).

    evals: name -> held-out blocks, each evaluated at step 0, every eval_steps steps and at the end.
    checkpoint_root: where checkpoints go (None: no checkpoints); resume_from: a checkpoint URI to continue.
    at_stable_end: called with the model on every rank after the last step of a warmup_stable_decay plateau
    (before that step's checkpoint, so a run resumed past it has already called it).
    """
    steps = config.total_steps(accelerator.num_processes)
    stable_step = schedules.stable_end(config.lr_scheduler_type, steps, config.warmup_steps, config.decay_ratio)
    flush_denormals(accelerator.device)
    model, optimizer, scheduler = prepare(speed_up(model, config, accelerator.device), config, accelerator)
    state: dict[str, Any] = {"step": 0, "history": [], "evals": [], "tokens_per_rank": 0}
    if resume_from is not None:
        state = checkpoint.load(accelerator, resume_from, (model, optimizer, scheduler))
        state.setdefault("resumed_at", []).append(state["step"])
        log(accelerator, f"resumed from {resume_from} at step {state['step']} of {steps}")
    torch_optimizer = getattr(optimizer, "optimizer", optimizer)  # inside accelerate's wrapper
    state.update(optimizer=type(torch_optimizer).__name__, fused=bool(torch_optimizer.defaults.get("fused")))
    evals = evals or {}
    if state["step"] == 0 and evals:
        state["evals"].append(evaluate_all(model, evals, config, accelerator.device, 0))
    tokens_per_step = config.tokens_per_step(accelerator.num_processes)
    model.train()
    first, unread = True, []
    while state["step"] < steps:
        started = time.perf_counter()
        record = train_step(model, optimizer, scheduler, stream, state["step"], config, accelerator)
        state["step"] += 1
        step = state["step"]
        state["tokens_per_rank"] += record.pop("rank_tokens")
        record.update(step=step, tokens=tokens_per_step, first=first)
        state["history"].append(record)
        unread.append(record)
        first = False
        if at_stable_end and step == stable_step:
            at_stable_end(model)
        saving = bool(checkpoint_root and config.save_steps and step % config.save_steps == 0)
        logging = step % config.logging_steps == 0 or step == steps
        if logging or saving:
            interval = len(unread)
            read_back(unread, accelerator)  # the checkpointed state holds floats only
        record["seconds"] = time.perf_counter() - started
        if logging:
            recent = state["history"][-interval:]
            seconds = sum(h["seconds"] for h in recent)
            log(accelerator, f"step {step}/{steps} loss {record['loss']:.4f} lr {record['lr']:.2e} "
                             f"{tokens_per_step * interval / seconds:,.0f} tokens/s")  # fmt: skip
        if evals and ((config.eval_steps and step % config.eval_steps == 0) or step == steps):
            state["evals"].append(evaluate_all(model, evals, config, accelerator.device, step))
            log(accelerator, "eval " + " ".join(f"{k} {v:.4f}" for k, v in state["evals"][-1].items() if k != "step"))
        if saving:
            uri = checkpoint.save(accelerator, checkpoint_root, step, state, (model, optimizer, scheduler),
                                  add_files, config.save_total_limit)  # fmt: skip
            log(accelerator, f"checkpoint {uri}")
    log(accelerator, f"trained {state['tokens_per_rank']:,} tokens on this rank", all_ranks=True)
    return model, state
