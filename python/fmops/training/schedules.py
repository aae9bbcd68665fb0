"""Learning-rate schedules, taken from transformers, chosen by name.

    warmup_stable_decay  linear warm-up, a stable plateau, then a cosine decay to min_lr_ratio·lr over the
                         last decay_ratio of the steps (Hu et al. 2024; Hägele et al. 2024)
    cosine_with_min_lr   linear warm-up, then cosine decay to a floor of min_lr_ratio·lr

The names are transformers' `lr_scheduler_type` values for the same shapes.

Every run's schedule starts at its own step 0. Continuous pretraining continues from the previous cycle's
stable-phase weights (kept by `stable_end`'s step, before the decay), so each cycle re-warms briefly and
decays again from the plateau instead of re-warming an annealed model: re-warming and re-decaying costs loss
(Ibrahim et al. 2024), while a WSD run can branch off its stable phase and decay any time (Hägele et al. 2024).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from transformers.optimization import get_cosine_with_min_lr_schedule_with_warmup, get_wsd_schedule

Schedule = Literal["warmup_stable_decay", "cosine_with_min_lr"]


def warmup(steps: int, warmup_steps: float) -> int:
    """Warm-up steps as transformers counts them: a value below 1 is a fraction of the total steps."""
    return min(steps, math.ceil(steps * warmup_steps) if warmup_steps < 1 else int(warmup_steps))


def decay_steps(steps: int, warmup: int, decay_ratio: float) -> int:
    return min(steps - warmup, math.ceil(steps * decay_ratio))


def stable_end(name: Schedule, steps: int, warmup_steps: float, decay_ratio: float) -> int | None:
    """The last step at the plateau of a warmup_stable_decay schedule; None without a decay to come."""
    decay = decay_steps(steps, warmup(steps, warmup_steps), decay_ratio)
    return steps - decay if name == "warmup_stable_decay" and decay > 0 else None


def build(
    optimizer: torch.optim.Optimizer,
    name: Schedule,
    *,
    steps: int,
    warmup: int,
    min_lr_ratio: float,
    decay_ratio: float,
) -> torch.optim.lr_scheduler.LambdaLR:
    if name == "warmup_stable_decay":
        decay = decay_steps(steps, warmup, decay_ratio)
        return get_wsd_schedule(
            optimizer,
            num_warmup_steps=warmup,
            num_decay_steps=decay,
            num_stable_steps=steps - warmup - decay,
            min_lr_ratio=min_lr_ratio,
            decay_type="cosine",
        )
    if name == "cosine_with_min_lr":
        return get_cosine_with_min_lr_schedule_with_warmup(
            optimizer, num_warmup_steps=warmup, num_training_steps=steps, min_lr_rate=min_lr_ratio
        )
    raise ValueError(f"unknown schedule '{name}' (expected warmup_stable_decay or cosine_with_min_lr)")
