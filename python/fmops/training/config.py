"""The training loop's configuration: every field documented, unknown keys refused (fmops.core.config.StageConfig).

Stages extend it (PretrainConfig adds replay and held-out fields); `fmops bench pretrain` builds one directly.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from fmops.core.config import StageConfig


class TrainConfig(StageConfig):
    """Optimizer steps, batch shape, LR schedule, checkpointing, evaluation and precision."""

    steps: int = Field(320, ge=1, description="optimizer steps (ignored when `tokens` is set)")
    tokens: int | None = Field(None, ge=1, description="token budget; sets steps = ceil(tokens / tokens per step)")
    seq_len: int = Field(128, ge=8, description="tokens per packed sequence (block)")
    batch_size: int = Field(32, ge=1, description="sequences per device per micro-batch")
    grad_accum: int = Field(1, ge=1, description="micro-batches per optimizer step")
    lr: float = Field(3e-3, gt=0, description="peak learning rate")
    schedule: Literal["wsd", "cosine"] = Field(
        "wsd", description="wsd: warm-up, stable, cosine decay; cosine: warm-up then cosine to the floor"
    )
    warmup_steps: int | None = Field(None, ge=0, description="warm-up steps (default: warmup_ratio of steps)")
    warmup_ratio: float = Field(0.05, ge=0, le=1, description="warm-up as a fraction of steps")
    decay_ratio: float = Field(0.2, ge=0, le=1, description="wsd only: the final fraction of steps that decays")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="LR floor as a fraction of lr (both schedules)")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay on matrices (not norms/biases)")
    beta1: float = Field(0.9, gt=0, lt=1, description="AdamW beta1")
    beta2: float = Field(0.95, gt=0, lt=1, description="AdamW beta2")
    grad_clip: float = Field(1.0, ge=0, description="clip the global gradient norm to this (0: off)")
    checkpoint_interval: int = Field(100, ge=0, description="save a checkpoint every N steps (0: never)")
    keep_checkpoints: int = Field(2, ge=1, description="complete checkpoints kept (older ones are deleted)")
    eval_interval: int = Field(100, ge=0, description="held-out (and replay) loss every N steps (0: start/end)")
    eval_blocks: int = Field(64, ge=1, description="held-out blocks per evaluation, at most")
    log_interval: int = Field(10, ge=1, description="print a progress line every N steps")
    seed: int = Field(0, description="seed for initialisation, data order and every RNG")
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="auto: bf16 mixed precision on GPU, fp32 on CPU"
    )

    def tokens_per_step(self, world_size: int) -> int:
        return self.seq_len * self.batch_size * self.grad_accum * world_size

    def total_steps(self, world_size: int) -> int:
        if self.tokens is not None:
            return max(1, math.ceil(self.tokens / self.tokens_per_step(world_size)))
        return self.steps
