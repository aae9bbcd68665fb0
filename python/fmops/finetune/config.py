"""SFT and DPO configs: TRL's own SFTConfig/DPOConfig fields, plus the few fmops adds.

A recipe key is either an fmops field below (LoRA, chat_template, cpu_threads, and the TRL fields whose fmops
default differs from TRL's, documented here) or any other field of TRL's SFTConfig/DPOConfig, passed to it
unchanged (e.g. `adam_beta2`, `max_grad_norm`, `neftune_noise_alpha`). A key that is neither is refused,
naming it; checking a key against TRL's fields imports TRL, so only a key fmops does not declare costs that.
Defaults are sized for the tiny demo model on a CPU; real sizes live in recipes (`recipes/sft/*.yaml`).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from fmops.training.config import RENAMED, TrainingSettings

# TRL fields fmops sets itself: checkpoints go where fmops publishes them from, at save_steps.
OWNED = {"output_dir": "set by fmops (--output)", "save_strategy": "set by fmops (checkpoints every save_steps)"}


@functools.cache
def trl_fields(name: str) -> frozenset[str]:
    """The field names of TRL's config class `name` (imports TRL and torch)."""
    import trl

    return frozenset(field.name for field in dataclasses.fields(getattr(trl, name)))


class FinetuneConfig(TrainingSettings):
    """Shared finetuning options; the subclass names TRL's trainer and config class."""

    model_config = ConfigDict(extra="allow")  # other TRL fields, checked by _trl_fields_only
    TRL_CONFIG: ClassVar[str] = ""
    TRL_TRAINER: ClassVar[str] = ""
    STAGE: ClassVar[str] = ""
    METRICS: ClassVar[tuple[str, ...]] = ("loss",)

    num_train_epochs: float = Field(1.0, gt=0, description="passes over the data (ignored when max_steps > 0)")
    max_steps: int = Field(-1, description="optimizer steps to run; -1 = use num_train_epochs")
    learning_rate: float = Field(1e-3, gt=0, description="peak learning rate")
    lr_scheduler_type: str = Field("cosine", description="transformers scheduler name: cosine, linear, constant, ...")
    warmup_steps: float = Field(0.05, ge=0, description="warm-up steps; below 1: a fraction of the total steps")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    per_device_train_batch_size: int = Field(16, ge=1, description="sequences (or packed blocks) per device per step")
    gradient_accumulation_steps: int = Field(1, ge=1, description="micro-batches per optimizer step")
    max_length: int = Field(128, ge=8, description="tokens per sequence (or packed block); longer is truncated")
    gradient_checkpointing: bool = Field(False, description="recompute activations to save memory (big models)")
    bf16: bool | None = Field(None, description="bf16 mixed precision; unset: where the GPU supports it")
    seed: int = Field(0, description="seed for data order and initialisation of new weights (LoRA)")
    logging_steps: int = Field(10, ge=1, description="steps between logged metrics")
    save_steps: int = Field(100, ge=1, description="steps between checkpoints under <output>/checkpoints/")
    save_total_limit: int = Field(2, ge=1, description="complete checkpoints kept")
    cpu_threads: int = Field(
        1,
        ge=0,
        description="fmops: torch threads when training on CPU (0 = torch's default; spinning OpenMP threads "
        "on shared cores are ~5x slower for the tiny model than one)",
    )
    chat_template: str = Field(
        "", description="fmops: '' = the model tokenizer's own template (fmops ChatML if none), or a .jinja URI"
    )
    lora: bool = Field(False, description="fmops: train a LoRA adapter instead of all weights (merged on save)")
    lora_r: int = Field(16, ge=1, description="fmops: LoRA rank")
    lora_alpha: int = Field(32, ge=1, description="fmops: LoRA scaling numerator (scale = alpha / r)")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="fmops: dropout on the LoRA path")
    lora_target_modules: list[str] | str = Field("all-linear", description="fmops: modules to adapt (peft names)")

    @model_validator(mode="before")
    @classmethod
    def _trl_fields_only(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        others = [key for key in data if key not in cls.model_fields and key not in RENAMED]
        errors = [
            InitErrorDetails(type=PydanticCustomError("owned", OWNED[key]), loc=(key,), input=data[key])
            for key in others
            if key in OWNED
        ]
        if not errors and others and cls.TRL_CONFIG:
            known = trl_fields(cls.TRL_CONFIG)
            errors = [
                InitErrorDetails(type="extra_forbidden", loc=(key,), input=data[key])
                for key in others
                if key not in known
            ]
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return data

    def trl_overrides(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """TRL arguments that depend on the data or differ in form from the fmops field."""
        return {}

    def masks_assistant_turns(self, records: list[dict[str, Any]]) -> bool:
        """Whether the loss is on the assistant turns of messages records only."""
        return False


class SFTStageConfig(FinetuneConfig):
    """SFT options on top of the shared finetuning ones (TRL's SFTConfig names)."""

    TRL_CONFIG: ClassVar[str] = "SFTConfig"
    TRL_TRAINER: ClassVar[str] = "SFTTrainer"
    STAGE: ClassVar[str] = "sft"
    METRICS: ClassVar[tuple[str, ...]] = ("loss", "mean_token_accuracy")

    num_train_epochs: float = Field(
        4.0, gt=0, description="passes over the data (demo: 2 give 6.3% exact match, 3 88.7%, 4 99%)"
    )
    learning_rate: float = Field(1e-3, gt=0, description="peak learning rate (tiny model; real sizes: recipes)")
    packing: bool = Field(
        False,
        description="pack examples into blocks of max_length tokens (GPU recipes; on the CPU demo, unpacked "
        "batches of 16 give 3x the optimizer steps of packed ones in less time)",
    )
    packing_strategy: Literal["bfd", "wrapped"] = Field(
        "bfd",
        description="bfd: best-fit decreasing, padding-free, no example cut in two; wrapped: concatenate and cut "
        "into full blocks (examples split across blocks lose their question: 7.0% -> 1.7% exact match on the demo)",
    )
    assistant_only_loss: bool = Field(
        True,
        description="messages data: loss on assistant turns only, through their end-of-turn token (by the "
        "template's {% generation %} markers, else located in the rendered conversation)",
    )
    completion_only_loss: bool = Field(True, description="prompt/completion data: loss on the completion only")

    def masks_assistant_turns(self, records: list[dict[str, Any]]) -> bool:
        return self.assistant_only_loss and "messages" in records[0]

    def trl_overrides(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        # TRL refuses assistant_only_loss on prompt/completion data, where completion_only_loss does the masking,
        # and on records fmops tokenized with their assistant_masks (fmops.finetune.assistant_mask).
        return {"assistant_only_loss": self.masks_assistant_turns(records)}


# TRL 1.16's loss_type values, checked here so that a typo is refused before TRL is imported.
LOSSES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)


class DPOStageConfig(FinetuneConfig):
    """DPO options on top of the shared finetuning ones (TRL's DPOConfig names)."""

    TRL_CONFIG: ClassVar[str] = "DPOConfig"
    TRL_TRAINER: ClassVar[str] = "DPOTrainer"
    STAGE: ClassVar[str] = "dpo"
    METRICS: ClassVar[tuple[str, ...]] = (
        "loss",
        "rewards/chosen",
        "rewards/rejected",
        "rewards/accuracies",
        "rewards/margins",
        "logps/chosen",
        "logps/rejected",
    )

    learning_rate: float = Field(5e-4, gt=0, description="peak learning rate (tiny model; real sizes: recipes)")
    max_length: int = Field(64, ge=8, description="tokens of prompt + answer; longer is truncated")
    beta: float = Field(0.1, gt=0, description="DPO temperature: how far the policy may move from the reference")
    loss_type: str = Field(
        "sigmoid,sft",
        description="comma-separated terms summed with equal weight: sigmoid (the DPO paper's), ipo, hinge, ...; "
        "`sft` adds the chosen answers' NLL (RPO), which keeps exact match from sliding",
    )
    loss_weights: list[float] | None = Field(
        None,
        description="one weight per loss_type term, in order (unset: equal); a recipe's weights are dropped, with "
        "a note, where --loss or --set loss_type leaves a different number of terms",
    )
    precompute_ref_log_probs: bool = Field(False, description="score the reference once up front, then free it")

    @field_validator("loss_type")
    @classmethod
    def _known_losses(cls, value: str) -> str:
        unknown = [term for term in value.split(",") if term.strip() not in LOSSES]
        if unknown or not value.strip():
            raise ValueError(f"unknown loss {unknown or [value]}; TRL's are {', '.join(LOSSES)}")
        return value

    def trl_overrides(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        terms = [term.strip() for term in self.loss_type.split(",")]
        weights = self.loss_weights
        if weights is not None and len(weights) != len(terms):
            print(
                f"loss_weights {weights} name {len(weights)} terms, loss_type {self.loss_type!r} has {len(terms)}: "
                "training with equal weights",
                file=sys.stderr,
            )
            weights = None
        return {"loss_type": terms, "loss_weights": weights}
