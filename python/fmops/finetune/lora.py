"""Optional LoRA (peft): the adapter config handed to TRL, and what is saved at the end.

Decision: the output root holds the MERGED full model (base + adapter folded in). Every consumer after
finetuning (DPO on top of SFT, `fmops evaluate`, vLLM and `transformers serve`) then loads one plain HF model
with no base-model reference to resolve, and serving pays no adapter overhead. The unmerged adapter is kept
beside it in `<output>/adapter/` for those who want vLLM's multi-LoRA serving
(`vllm serve BASE --enable-lora --lora-modules name=<output>/adapter`) against the same base.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from peft import LoraConfig
    from transformers import PreTrainedModel

    from fmops.finetune.config import FinetuneConfig

ADAPTER_DIR = "adapter"


def peft_config(config: FinetuneConfig) -> LoraConfig | None:
    """The LoraConfig TRL wraps the model with, or None for full finetuning."""
    if not config.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.lora_target_modules,
        task_type="CAUSAL_LM",
    )


def save(model: Any, directory: Path) -> PreTrainedModel:
    """Save the model to `directory`: a peft model is saved as adapter/ and merged into the root."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        model.save_pretrained(directory / ADAPTER_DIR)
        model = model.merge_and_unload()
    model.save_pretrained(directory)
    return model
