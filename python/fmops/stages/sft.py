"""The SFT stage: validated inputs and an SFT config in, a tuned model, metrics.json and manifest.json out."""

from __future__ import annotations

from typing import Any

from fmops.finetune import chat_data
from fmops.finetune.chat_data import FinetuneInputs
from fmops.finetune.config import SFTStageConfig


def inputs(*, model: str, data: list[str], output: str) -> FinetuneInputs:
    """Every record of the data (JSON lines or parquet) checked (conversations or prompt/completion) before torch
    is imported."""
    return chat_data.inputs(model=model, data=data, output=output, kind="sft")


def sft(*, inputs: FinetuneInputs, config: SFTStageConfig, results_dir: str = "") -> dict[str, Any]:
    """Instruction-tune `inputs.model` with TRL's SFTTrainer; returns the metrics (also in metrics.json)."""
    from fmops.finetune import runner  # imports torch and TRL: only after the inputs are valid

    return runner.run(config, inputs, results_dir=results_dir)
