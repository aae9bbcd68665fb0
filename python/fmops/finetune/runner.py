"""`fmops sft` and `fmops dpo`: every input checked, then one shared trainer run (fmops.finetune.trainer).

The data (JSON lines or parquet: conversations, prompt/completion, or preference pairs) is read record by record
before torch, transformers or TRL is imported, so bad input is refused in about a second.
"""

from __future__ import annotations

import sys
from typing import Any

from fmops.finetune import chat_data
from fmops.finetune.config import DPOStageConfig, FinetuneConfig, SFTStageConfig


def sft(*, model: str, data: list[str], output: str, config: SFTStageConfig, results_dir: str = "") -> dict[str, Any]:
    """Instruction-tune `model` with TRL's SFTTrainer; returns the metrics (also in metrics.json)."""
    inputs = chat_data.inputs(model=model, data=data, output=output, kind="sft")
    print(f"sft: {len(inputs.records)} examples from {len(inputs.data)} file(s)", file=sys.stderr)
    return _finetune(config, inputs, results_dir)


def dpo(*, model: str, data: list[str], output: str, config: DPOStageConfig, results_dir: str = "") -> dict[str, Any]:
    """Align `model` with TRL's DPOTrainer on preference pairs; returns the metrics (also in metrics.json)."""
    inputs = chat_data.inputs(model=model, data=data, output=output, kind="preference")
    print(f"dpo: {len(inputs.records)} preference pairs from {len(inputs.data)} file(s)", file=sys.stderr)
    return _finetune(config, inputs, results_dir)


def _finetune(config: FinetuneConfig, inputs: chat_data.FinetuneInputs, results_dir: str) -> dict[str, Any]:
    from fmops.finetune import trainer  # imports torch and TRL: only after the inputs are valid

    return trainer.run(config, inputs, results_dir=results_dir)
