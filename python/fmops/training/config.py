"""Training configuration: one vocabulary for pretraining, SFT and DPO, every field documented; and the tokenize
stage's config (TokenizeConfig).

Settings that Hugging Face's TrainingArguments (and TRL's SFTConfig/DPOConfig on top of it) already name carry
that name and meaning (learning_rate, max_steps, per_device_train_batch_size, save_steps, ...), so a recipe
reads the same whichever stage it is for. Fields with no Hugging Face equivalent keep fmops names (tokens,
eval_blocks, decay_ratio, min_lr_ratio, replay_ratio, ...). `max_length` is the length of a packed block in
pretraining, as it is for packed SFT.

Keys fmops used before it took the Hugging Face names are refused with the new name (RENAMED, the one table),
wherever they come from: a recipe, a YAML file or `--set`.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from fmops.core.config import StageConfig
from fmops.core.errors import InputError
from fmops.training.text_data import Corpus
from fmops.training.token_shards import TokenDataset

# old fmops key -> the Hugging Face/TRL name that replaced it (pretraining, SFT and DPO alike)
RENAMED = {
    "lr": "learning_rate",
    "steps": "max_steps",
    "epochs": "num_train_epochs",
    "batch_size": "per_device_train_batch_size",
    "grad_accum": "gradient_accumulation_steps",
    "seq_len": "max_length",
    "schedule": "lr_scheduler_type",
    "lr_scheduler": "lr_scheduler_type",
    "warmup_ratio": "warmup_steps",
    "beta1": "adam_beta1",
    "beta2": "adam_beta2",
    "grad_clip": "max_grad_norm",
    "checkpoint_interval": "save_steps",
    "keep_checkpoints": "save_total_limit",
    "eval_interval": "eval_steps",
    "log_interval": "logging_steps",
    "precision": "bf16",
    "loss": "loss_type",
}


class TrainingSettings(StageConfig):
    """Base of every training stage's config: an old key is an error naming its new name."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_renamed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            errors = [
                InitErrorDetails(
                    type=PydanticCustomError("renamed", f"renamed to '{RENAMED[key]}'"), loc=(key,), input=data[key]
                )
                for key in data
                if key in RENAMED and key not in cls.model_fields
            ]
            if errors:
                raise ValidationError.from_exception_data(cls.__name__, errors)
        return data


class TrainConfig(TrainingSettings):
    """The pretraining loop: optimizer steps, batch shape, LR schedule, checkpointing, evaluation, precision."""

    max_steps: int = Field(320, ge=1, description="optimizer steps (ignored when `tokens` is set)")
    tokens: int | None = Field(None, ge=1, description="token budget; sets max_steps = ceil(tokens / tokens per step)")
    max_length: int = Field(128, ge=8, description="tokens per packed sequence (block)")
    per_device_train_batch_size: int = Field(32, ge=1, description="sequences per device per micro-batch")
    gradient_accumulation_steps: int = Field(1, ge=1, description="micro-batches per optimizer step")
    learning_rate: float = Field(3e-3, gt=0, description="peak learning rate")
    lr_scheduler_type: Literal["warmup_stable_decay", "cosine_with_min_lr"] = Field(
        "warmup_stable_decay",
        description="warmup_stable_decay: warm-up, stable, cosine decay; cosine_with_min_lr: warm-up then cosine "
        "to the floor",
    )
    warmup_steps: float = Field(0.05, ge=0, description="warm-up steps; below 1: a fraction of max_steps")
    decay_ratio: float = Field(0.2, ge=0, le=1, description="warmup_stable_decay: the final fraction that decays")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="LR floor as a fraction of learning_rate (both)")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay on matrices (not norms/biases)")
    adam_beta1: float = Field(0.9, gt=0, lt=1, description="AdamW beta1")
    adam_beta2: float = Field(0.95, gt=0, lt=1, description="AdamW beta2")
    max_grad_norm: float = Field(1.0, ge=0, description="clip the global gradient norm to this (0: off)")
    save_steps: int = Field(100, ge=0, description="save a checkpoint every N steps (0: never)")
    save_total_limit: int = Field(2, ge=1, description="complete checkpoints kept (older ones are deleted)")
    eval_steps: int = Field(100, ge=0, description="held-out (and replay) loss every N steps (0: start/end)")
    eval_blocks: int = Field(64, ge=1, description="held-out blocks per evaluation, at most")
    logging_steps: int = Field(10, ge=1, description="print a progress line every N steps")
    seed: int = Field(0, description="seed for initialisation, data order and every RNG")
    bf16: bool | None = Field(None, description="bf16 mixed precision; unset: on a GPU yes, on a CPU no (fp32)")

    # --- Speed: how the loop computes, not what (each changes throughput and memory; losses only within float
    # rounding). All off by default, so the CPU demo's numbers stay as they were; recipes/pretrain/gpu.yaml turns
    # them on. fmops.training.loop applies them in this order: attention, Liger, checkpointing, compile.
    tf32: bool | None = Field(None, description="TF32 matmuls for the fp32 parts; unset: on a GPU yes, on a CPU n/a")
    torch_compile: bool = Field(False, description="torch.compile the model in place (state_dict names unchanged)")
    torch_compile_scope: Literal["blocks", "model"] = Field(
        "blocks",
        description="blocks: each transformer block compiled on its own, as torchtitan does (one graph "
        "reused by every layer, short compiles); model: the whole model in one graph",
    )
    activation_checkpointing: Literal["none", "full", "selective"] = Field(
        "none",
        description="recompute activations in the backward pass, per transformer block: full (keep only "
        "block inputs) or selective (keep matmul and attention outputs, recompute norms and activations)",
    )
    liger: bool = Field(
        False,
        description="Liger kernels (fused linear cross-entropy, RMSNorm, SwiGLU, RoPE) for "
        "Llama/Qwen/Mistral models; needs liger-kernel (the `liger` extra) and a CUDA GPU",
    )
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] | None = Field(
        None,
        description="unset: the model's own (transformers picks sdpa where the model supports it); "
        "flash_attention_2 needs flash-attn and a CUDA GPU",
    )

    def check_installed(self) -> None:
        """Refuse (InputError) a kernel setting whose package is missing; torch-free, so it can run first."""
        needs = {"liger": ("liger_kernel", "liger-kernel"), "flash_attention_2": ("flash_attn", "flash-attn")}
        for setting, (module, package) in needs.items():
            asked = self.liger if setting == "liger" else self.attn_implementation == setting
            if asked and importlib.util.find_spec(module) is None:
                name = "liger=true" if setting == "liger" else f"attn_implementation={setting}"
                raise InputError(f"{name}: needs the {package} package, which is not installed")

    # --- end of the speed settings

    def tokens_per_step(self, world_size: int) -> int:
        return self.max_length * self.per_device_train_batch_size * self.gradient_accumulation_steps * world_size

    def total_steps(self, world_size: int) -> int:
        if self.tokens is not None:
            return max(1, math.ceil(self.tokens / self.tokens_per_step(world_size)))
        return self.max_steps


class PretrainConfig(TrainConfig):
    """The training loop's fields plus what continuous pretraining adds."""

    replay_ratio: float = Field(0.0, ge=0, lt=1, description="fraction of training sequences drawn from --replay")
    held_out_fraction: float = Field(0.05, gt=0, lt=0.5, description="documents held out for eval_loss")
    vocab_size: int = Field(512, ge=300, description="tiny model only: BPE vocabulary size")
    save_stable_model: bool = Field(
        True,
        description="warmup_stable_decay: also save the weights at the end of "
        "the plateau, before the decay, as stable/ (continuous pretraining continues "
        "the next cycle from them)",
    )
    separate_documents: bool = Field(
        False,
        description="packed documents do not attend to each other: position "
        "ids restart after each EOS and the causal mask is block-diagonal (off: one "
        "causal mask over the block, as the demo's numbers were measured)",
    )


@dataclass(frozen=True)
class PretrainInputs:
    """What a pretraining run reads, validated: the model to start from (pointers resolved) and the corpora."""

    model: str
    data: Corpus | TokenDataset
    replay: Corpus | TokenDataset | None


class TokenizeConfig(StageConfig):
    """How the corpus is cut and batched; the tokenizer is the model's."""

    shard_tokens: int = Field(1 << 24, ge=1, description="tokens per shard file (the last one is shorter)")
    batch_size: int = Field(1000, ge=1, description="documents per tokenizer call (tokenized on every core)")
    vocab_size: int = Field(512, ge=300, description="--model tiny only: BPE vocabulary size")
    tokenizer_train_bytes: int = Field(
        64 << 20,
        ge=1,
        description="--model tiny only: the BPE tokenizer is trained on the corpus's first this many bytes of text",
    )
