"""Metrics out of a TRL run: the last logged window of each named metric, plus the run's totals.

TRL logs its metrics every `logging_steps` into `trainer.state.log_history` (loss, mean_token_accuracy,
num_tokens; DPO adds rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins). The value
reported for a metric is the mean over the last quarter of its logged values (at least one), so a single
noisy window does not decide a gate.
"""

from __future__ import annotations

from typing import Any


def last_window(log_history: list[dict[str, Any]], name: str) -> float | None:
    values = [entry[name] for entry in log_history if name in entry and "train_runtime" not in entry]
    if not values:
        return None
    tail = values[-max(1, len(values) // 4) :]
    return sum(tail) / len(tail)


def extract(log_history: list[dict[str, Any]], names: tuple[str, ...], train_output: Any) -> dict[str, float]:
    """{name: value} for every metric the run logged, plus train_loss (whole-run mean) and throughput."""
    metrics: dict[str, float] = {}
    for name in names:
        value = last_window(log_history, name)
        if value is not None:
            metrics[name] = round(float(value), 6)
    totals = train_output.metrics
    metrics["train_loss"] = round(float(totals.get("train_loss", float("nan"))), 6)
    metrics["train_runtime_s"] = round(float(totals.get("train_runtime", 0.0)), 3)
    metrics["train_samples_per_second"] = round(float(totals.get("train_samples_per_second", 0.0)), 3)
    metrics["steps"] = int(train_output.global_step)
    tokens = [entry["num_tokens"] for entry in log_history if "num_tokens" in entry]
    if tokens:
        metrics["num_tokens"] = int(tokens[-1])
    return metrics
