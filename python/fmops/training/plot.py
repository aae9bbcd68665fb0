"""The loss-curve PNG: training loss per step, held-out and replay loss at each evaluation, and a reference
line (for pretraining: the corpus's unigram entropy). matplotlib with the Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def loss_curve(
    path: Path, history: list[dict[str, Any]], evals: list[dict[str, Any]], reference: tuple[str, float] | None
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    axes.plot([h["step"] for h in history], [h["loss"] for h in history], label="train loss", linewidth=1)
    for key, label in (("eval_loss", "held-out loss"), ("replay_loss", "replay loss (forgetting)")):
        points = [(e["step"], e[key]) for e in evals if e.get(key) is not None]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", label=label)
    if reference:
        axes.axhline(reference[1], color="grey", linestyle="--", label=reference[0])
    axes.set_xlabel("step")
    axes.set_ylabel("cross-entropy (nats/token)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
