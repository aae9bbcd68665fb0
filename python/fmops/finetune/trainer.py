"""Wire a TRL trainer the same way for SFT and DPO: arguments, resume, train, save.

The trainers are TRL's own (SFTTrainer, DPOTrainer); this module only holds what both stages would otherwise
copy: the TrainingArguments they share, resuming from the newest complete checkpoint, and the final save.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmops.finetune import checkpoints, lora

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase, Trainer

    from fmops.finetune.config import FinetuneConfig


def use_bf16(precision: str) -> bool:
    import torch

    if precision == "fp32":
        return False
    return precision == "bf16" or (torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def set_cpu_threads(threads: int) -> None:
    import torch

    if threads and not torch.cuda.is_available():
        torch.set_num_threads(threads)


def arguments(config: FinetuneConfig, work: Path) -> dict[str, Any]:
    """Keyword arguments of SFTConfig/DPOConfig that both stages set from the shared config."""
    set_cpu_threads(config.cpu_threads)
    return {
        "output_dir": str(work / "checkpoints" / checkpoints.INCOMPLETE),
        "num_train_epochs": config.epochs,
        "max_steps": config.max_steps,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler,
        "warmup_steps": config.warmup_ratio,  # transformers 5: a float below 1 is a ratio of the total steps
        "weight_decay": config.weight_decay,
        "per_device_train_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "max_length": config.max_length,
        "gradient_checkpointing": config.gradient_checkpointing,
        "bf16": use_bf16(config.precision),
        "seed": config.seed,
        "logging_steps": config.logging_steps,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }


def fit(trainer: Trainer, output: str, work: Path, keep: int) -> Any:
    """Train, resuming from the newest complete checkpoint of `output` when there is one."""
    import sys

    trainer.add_callback(checkpoints.PublishCheckpoints(output, work, keep))
    resume = checkpoints.resume_path(output, work)
    if resume:
        print(f"resuming from {resume}", file=sys.stderr)
    return trainer.train(resume_from_checkpoint=resume)


def save(trainer: Trainer, tokenizer: PreTrainedTokenizerBase, directory: Path) -> None:
    """The final model (LoRA merged, adapter beside it) and the tokenizer with its chat template."""
    if trainer.is_fsdp_enabled:  # gather the full weights: the output is one servable HF model
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    model = trainer.accelerator.unwrap_model(trainer.model)
    if not hasattr(model, "peft_config"):
        trainer.save_model(str(directory))  # every process: FSDP/ZeRO-3 gather here; rank 0 writes
    elif trainer.args.should_save:
        lora.save(model, directory)
    if trainer.args.should_save:
        tokenizer.save_pretrained(str(directory))
