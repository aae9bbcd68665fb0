"""Align a model with TRL's DPOTrainer on preference pairs (prompt, chosen, rejected).

    fmops dpo --model out/sft --data python/fmops/data/demo/dpo.jsonl --output out/dpo
    fmops dpo --model s3://b/sft --data s3://b/pairs.jsonl --output s3://b/dpo --beta 0.1 --loss sigmoid

Data: JSONL, every line {"prompt": P, "chosen": C, "rejected": R}, all three strings or all message lists
(conversational pairs are rendered with the model tokenizer's chat template, the one SFT saved).
`chosen` must be non-empty and differ from `rejected`. The reference model is TRL's: a frozen copy of the
starting model, or with lora=true the same weights with the adapter disabled (no second copy in memory).
Output: as `fmops sft` (model and tokenizer at the root, checkpoints/, metrics.json, manifest.json last).

Metrics (metrics.json, also into --results-dir), the last logged window of TRL's names: loss,
rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected;
plus train_loss, steps, train_runtime_s, train_samples_per_second.

Multi-GPU: `fmops launch --strategy ddp|fsdp2|zero3 -- dpo ...`, chosen as for `fmops sft`, remembering the
reference model doubles the weights held (use lora=true, or fsdp2/zero3 which shard the reference too).
"""

from __future__ import annotations

import argparse
import sys

from pydantic import Field, field_validator

from fmops.cli import options
from fmops.core import config as stage_config
from fmops.core import manifest
from fmops.core.errors import InputError
from fmops.finetune import chat_data
from fmops.finetune.config import FinetuneConfig

METRICS = ("loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
           "logps/chosen", "logps/rejected")  # fmt: skip


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
)  # fmt: skip (TRL 1.16 loss_type)


class DPOStageConfig(FinetuneConfig):
    """DPO options on top of the shared finetuning ones."""

    learning_rate: float = Field(5e-4, gt=0, description="peak learning rate (tiny model; real sizes: recipes)")
    max_length: int = Field(64, ge=8, description="tokens of prompt + answer; longer is truncated")
    beta: float = Field(0.1, gt=0, description="DPO temperature: how far the policy may move from the reference")
    loss: str = Field(
        "sigmoid,sft",
        description="TRL loss_type, comma-separated terms summed with equal weight: sigmoid (the DPO paper's), "
        "ipo, hinge, ...; `sft` adds the chosen answers' NLL (RPO), which keeps exact match from sliding",
    )
    precompute_ref_log_probs: bool = Field(False, description="score the reference once up front, then free it")

    @field_validator("loss")
    @classmethod
    def _known_losses(cls, value: str) -> str:
        unknown = [term for term in value.split(",") if term.strip() not in LOSSES]
        if unknown or not value.strip():
            raise ValueError(f"unknown loss {unknown or [value]}; TRL's are {', '.join(LOSSES)}")
        return value


def _float_or_none(text: str) -> float | None:
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise InputError(f"--beta {text}: expected a number") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model to align (usually an `fmops sft` output)")
    parser.add_argument("--data", required=True, nargs="+", help="JSONL URIs (each may be a comma-separated list)")
    parser.add_argument("--output", required=True, help="output directory or s3:// URI")
    parser.add_argument("--beta", default="", help="DPO beta ('' = the config's)")
    parser.add_argument("--loss", default="", help="TRL loss type ('' = the config's)")
    parser.add_argument("--lora", action="store_const", const=True, default=None, help="same as --set lora=true")
    parser.add_argument("--results-dir", default="", help="also write metrics.json here (Argo outputs)")
    options.add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    started_at = manifest.now()
    data = chat_data.split_uris(args.data)
    records = chat_data.load(data, "preference")  # every line checked before torch is imported
    manifest.require_complete_model(args.model)
    if not args.output:
        raise InputError("--output: no path given")
    config = stage_config.load(DPOStageConfig, "dpo", args.config, args.overrides,
                               beta=_float_or_none(args.beta), loss=args.loss or None, lora=args.lora)  # fmt: skip
    print(f"dpo: {len(records)} preference pairs from {len(data)} file(s)", file=sys.stderr)

    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from fmops.finetune import lora, metrics, models, outputs, trainer

    model, tokenizer = models.load(args.model, config.chat_template)
    with outputs.workspace(args.output) as work:
        dpo = DPOTrainer(
            model=model,
            processing_class=tokenizer,
            train_dataset=Dataset.from_list(records),
            peft_config=lora.peft_config(config),
            args=DPOConfig(
                **trainer.arguments(config, work),
                beta=config.beta,
                loss_type=[term.strip() for term in config.loss.split(",")],
                precompute_ref_log_probs=config.precompute_ref_log_probs,
            ),
        )
        result = trainer.fit(dpo, args.output, work, config.save_total_limit)
        trainer.save(dpo, tokenizer, work)
        outputs.finish(
            args.output,
            work,
            stage="dpo",
            inputs=manifest.describe_inputs({"model": args.model, "data": data}),
            config=config.model_dump(),
            metrics=metrics.extract(dpo.state.log_history, METRICS, result),
            started_at=started_at,
            results_dir=args.results_dir,
        )
    return 0
