"""The fields SFT and DPO share: optimisation, checkpointing, LoRA. Each stage adds its own on top.

Defaults are sized for the tiny demo model on a CPU; real sizes live in recipes (`recipes/sft/*.yaml`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fmops.core.config import StageConfig


class FinetuneConfig(StageConfig):
    """Shared finetuning options (TRL/transformers TrainingArguments underneath)."""

    epochs: float = Field(1.0, gt=0, description="passes over the data (ignored when max_steps > 0)")
    max_steps: int = Field(-1, description="optimizer steps to run; -1 = use epochs")
    learning_rate: float = Field(1e-3, gt=0, description="peak learning rate")
    lr_scheduler: str = Field("cosine", description="transformers scheduler name: cosine, linear, constant, ...")
    warmup_ratio: float = Field(0.05, ge=0, le=1, description="share of steps spent warming up")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    batch_size: int = Field(16, ge=1, description="sequences (or packed blocks) per device per step")
    gradient_accumulation_steps: int = Field(1, ge=1, description="micro-batches per optimizer step")
    max_length: int = Field(128, ge=8, description="tokens per sequence (or packed block); longer is truncated")
    gradient_checkpointing: bool = Field(False, description="recompute activations to save memory (big models)")
    precision: Literal["auto", "bf16", "fp32"] = Field("auto", description="auto = bf16 where the GPU supports it")
    cpu_threads: int = Field(
        1,
        ge=0,
        description="torch threads when training on CPU (0 = torch's default; spinning OpenMP threads "
        "on shared cores are ~5x slower for the tiny model than one)",
    )
    seed: int = Field(0, description="seed for data order and initialisation of new weights (LoRA)")
    logging_steps: int = Field(10, ge=1, description="steps between logged metrics")
    save_steps: int = Field(100, ge=1, description="steps between checkpoints under <output>/checkpoints/")
    save_total_limit: int = Field(2, ge=1, description="complete checkpoints kept")
    chat_template: str = Field(
        "", description="'' = the model tokenizer's own template (fmops ChatML if it has none), or a .jinja URI"
    )
    lora: bool = Field(False, description="train a LoRA adapter instead of all weights (merged on save)")
    lora_r: int = Field(16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling numerator (scale = alpha / r)")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the LoRA path")
    lora_target_modules: list[str] | str = Field("all-linear", description="modules to adapt (peft names)")
