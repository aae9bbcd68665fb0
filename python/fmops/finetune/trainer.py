"""The one run body of `fmops sft` and `fmops dpo`: TRL's config from ours, TRL's trainer, resume, save, outputs.

The trainers and their configs are TRL's own (SFTTrainer/SFTConfig, DPOTrainer/DPOConfig, named by the stage's
config class): every field of ours that is also a field of TRL's config is passed to it unchanged. What is
fmops' own: LoRA (lora.py), the chat template (fmops.models.loading), assistant-only loss for templates without
generation markers (assistant_mask.py), CPU threads, resuming from the newest complete checkpoint and
publishing each one complete (checkpoints.py), and the output layout (outputs.py).
Imported only after the inputs are valid: it imports torch, transformers, TRL and datasets.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import trl

from fmops.core import manifest
from fmops.core.errors import InputError
from fmops.finetune import assistant_mask, checkpoints, lora, metrics, outputs
from fmops.finetune.chat_data import FinetuneInputs
from fmops.finetune.config import FinetuneConfig
from fmops.models import loading

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer

# TrainingArguments fmops always sets: no progress bars or trackers in pod logs, data loaded in-process.
DEFAULTS = {"save_strategy": "steps", "report_to": "none", "disable_tqdm": True, "dataloader_num_workers": 0}
# Ours, not passed on: the Trainer saves into a staging directory, and fmops keeps the complete checkpoints
# published from it (PublishCheckpoints), save_total_limit of them.
KEPT_BACK = {"save_total_limit"}


def use_bf16(bf16: bool | None) -> bool:
    if bf16 is not None:
        return bf16
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def cpu() -> bool:
    """No CUDA: run on the CPU, and several processes (torchrun) as one DDP job over gloo, as pretraining does;
    without it accelerate would see each CPU process as a job of its own."""
    return not torch.cuda.is_available()


def trl_config(config: FinetuneConfig, records: Dataset, work: Path) -> Any:
    """TRL's config object: our fields that TRL knows, passed straight, plus the few fmops settles itself."""
    cls = getattr(trl, config.TRL_CONFIG)
    known = {field.name for field in dataclasses.fields(cls)}
    values = {key: value for key, value in config.model_dump().items() if key in known - KEPT_BACK}
    values.update(
        DEFAULTS,
        output_dir=str(work / "checkpoints" / checkpoints.INCOMPLETE),
        bf16=use_bf16(config.bf16),
        use_cpu=cpu(),
        **config.trl_overrides(records),
    )
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:  # a pass-through field TRL itself refuses
        raise InputError(f"{config.TRL_CONFIG}: {str(error).strip().splitlines()[0]}") from None


def run(config: FinetuneConfig, inputs: FinetuneInputs, *, results_dir: str = "") -> dict[str, Any]:
    """Train `inputs.model` on `inputs.records` with the stage's TRL trainer; returns metrics.json's content."""
    started_at = manifest.now()
    if config.cpu_threads and not torch.cuda.is_available():
        torch.set_num_threads(config.cpu_threads)
    with warnings.catch_warnings():  # only a check: a field TRL refuses fails here (one line), before the model loads
        warnings.simplefilter("ignore", FutureWarning)
        trl_config(config, inputs.records, Path(inputs.output))
    from accelerate import PartialState

    model, tokenizer = loading.load(inputs.model, template_uri=config.chat_template)
    process = PartialState(cpu=cpu())  # the process group the Trainer's accelerator joins
    with outputs.workspace(inputs.output, main=process.is_main_process) as work:
        trainer = build_trainer(config, inputs, model, tokenizer, work)
        result = fit(trainer, inputs.output, work, config.save_total_limit)
        save(trainer, tokenizer, work)
        measured = metrics.extract(trainer.state.log_history, config.METRICS, result)
        process.wait_for_everyone()  # every rank has saved its part: only now may the output say complete
        if not process.is_main_process:
            return measured
        outputs.finish(
            inputs.output,
            work,
            stage=config.STAGE,
            inputs=manifest.describe_inputs({"model": inputs.model, "data": inputs.data}),
            config=config.model_dump(),
            metrics=measured,
            started_at=started_at,
            results_dir=results_dir,
        )
    return measured


def build_trainer(
    config: FinetuneConfig,
    inputs: FinetuneInputs,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    work: Path,
) -> Trainer:
    """The stage's TRL trainer on the records; with assistant-only loss and a template without generation
    markers, on the records tokenized with their assistant masks (assistant_mask.py)."""
    records = inputs.records
    if config.masks_assistant_turns(records):
        records = assistant_mask.prepare(records, inputs.places, tokenizer)
    return getattr(trl, config.TRL_TRAINER)(
        model=model,
        processing_class=tokenizer,
        train_dataset=records,
        peft_config=lora.peft_config(config),
        args=trl_config(config, records, work),
    )


def fit(trainer: Trainer, output: str, work: Path, keep: int) -> Any:
    """Train, resuming from the newest complete checkpoint of `output` when there is one."""
    trainer.add_callback(checkpoints.PublishCheckpoints(output, keep))
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
