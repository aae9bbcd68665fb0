"""The DPO stage: validated preference pairs and a DPO config in, an aligned model, metrics and manifest out."""

from __future__ import annotations

from typing import Any

from fmops.finetune import chat_data
from fmops.finetune.chat_data import FinetuneInputs
from fmops.finetune.config import DPOStageConfig


def inputs(*, model: str, data: list[str], output: str) -> FinetuneInputs:
    """Every preference pair checked before torch is imported."""
    return chat_data.inputs(model=model, data=data, output=output, kind="preference")


def dpo(*, inputs: FinetuneInputs, config: DPOStageConfig, results_dir: str = "") -> dict[str, Any]:
    """Align `inputs.model` with TRL's DPOTrainer; returns the metrics (also in metrics.json)."""
    from fmops.finetune import runner  # imports torch and TRL: only after the inputs are valid

    return runner.run(config, inputs, results_dir=results_dir)
