"""Align a model with TRL's DPOTrainer on preference pairs (prompt, chosen, rejected).

    fmops dpo --model out/sft --data python/fmops/data/demo/dpo.jsonl --output out/dpo
    fmops dpo --model s3://b/sft --data s3://b/pairs.parquet --output s3://b/dpo --beta 0.1 --loss sigmoid

Data: JSON lines or parquet files, as for `fmops sft`, every record {"prompt": P, "chosen": C, "rejected": R},
all three strings or all message lists (conversational pairs are rendered with the model tokenizer's chat
template, the one SFT saved).
`chosen` must be non-empty and differ from `rejected`. The reference model is TRL's: a frozen copy of the
starting model, or with lora=true the same weights with the adapter disabled (no second copy in memory).
Output: as `fmops sft` (model and tokenizer at the root, checkpoints/, metrics.json, manifest.json last).

Metrics (metrics.json, also into --results-dir), the last logged window of TRL's names: loss,
rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected;
plus train_loss, steps, train_runtime_s, train_samples_per_second.

Multi-GPU: `fmops launch --strategy ddp|fsdp2|zero3 -- dpo ...`, chosen as for `fmops sft`, remembering the
reference model doubles the weights held (use lora=true, or fsdp2/zero3 which shard the reference too).

Settings: as for `fmops sft`, with TRL's DPOConfig names (beta, loss_type, precompute_ref_log_probs, ...);
--beta and --loss set beta and loss_type.
"""

from __future__ import annotations

import argparse

from fmops.cli import options
from fmops.cli.sft import add_finetune_arguments
from fmops.core.errors import InputError
from fmops.finetune.config import DPOStageConfig
from fmops.finetune.runner import dpo


def _float_or_none(text: str) -> float | None:
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise InputError(f"--beta {text}: expected a number") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_finetune_arguments(parser, "model to align (usually an `fmops sft` output)")
    parser.add_argument("--beta", default="", help="DPO beta ('' = the config's)")
    parser.add_argument("--loss", default="", help="TRL loss_type, comma-separated ('' = the config's)")


def run(args: argparse.Namespace) -> int:
    config = options.load_config(DPOStageConfig, "dpo", args, beta=_float_or_none(args.beta),
                                 loss_type=args.loss or None, lora=args.lora)  # fmt: skip
    dpo(model=args.model, data=args.data, output=args.output, config=config, results_dir=args.results_dir)
    return 0
