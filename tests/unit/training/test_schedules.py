"""The step that ends a warmup_stable_decay plateau: the weights continuous pretraining continues from."""

import pytest
import torch
from fmops.training import schedules


def learning_rates(steps: int, warmup: float, decay_ratio: float) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    first = schedules.warmup(steps, warmup)
    scheduler = schedules.build(
        optimizer, "warmup_stable_decay", steps=steps, warmup=first, min_lr_ratio=0.1, decay_ratio=decay_ratio
    )
    rates = []
    for _ in range(steps):
        rates.append(scheduler.get_last_lr()[0])  # the rate the next optimizer step uses
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize(("steps", "warmup", "decay_ratio"), [(100, 0.05, 0.2), (150, 10, 0.3), (7, 0.0, 0.5)])
def test_stable_end_is_the_last_step_trained_at_the_peak(steps, warmup, decay_ratio):
    end = schedules.stable_end("warmup_stable_decay", steps, warmup, decay_ratio)
    rates = learning_rates(steps, warmup, decay_ratio)
    # step k (1-based) trains with rates[k-1]: every step through `end` after the warm-up at the peak; the
    # decay starts at factor 1 (transformers' cosine at progress 0), so step end+2 is the first one below it
    plateau = rates[schedules.warmup(steps, warmup) : end]
    assert plateau == pytest.approx([1.0] * len(plateau)) and len(plateau) > 0
    assert rates[end + 1] < 1.0
    assert all(later <= earlier for earlier, later in zip(rates[end:], rates[end + 1 :], strict=False))


def test_no_stable_end_without_a_decay_or_with_cosine():
    assert schedules.stable_end("warmup_stable_decay", 100, 0.05, 0.0) is None
    assert schedules.stable_end("cosine_with_min_lr", 100, 0.05, 0.2) is None
