"""`fmops sft` and `fmops dpo`: finetuning with TRL's trainers."""

from __future__ import annotations

import argparse

from fmops.cli import options
from fmops.cli.command import Command
from fmops.finetune import runner
from fmops.finetune.config import DPOStageConfig, SFTStageConfig

SFT = """Instruction-tune a causal LM with TRL's SFTTrainer: loss on assistant (or completion) tokens only.

    fmops sft --model out/pretrain --data python/fmops/data/demo/sft.jsonl --output out/sft
    fmops sft --model s3://b/pretrain --data s3://b/a.jsonl,s3://b/b.parquet --output s3://b/sft --set lora=true

--data: JSON lines or parquet, every record {"messages": [...]} or {"prompt": ..., "completion": ...}, each
checked first. Writes the model with its tokenizer and chat template, checkpoints/, metrics.json, manifest.json.
Settings: TRL's SFTConfig names plus fmops' own (fmops.finetune.config.SFTStageConfig).
Manual: python/fmops/finetune/README.md
"""

DPO = """Align a model with TRL's DPOTrainer on preference pairs (prompt, chosen, rejected).

    fmops dpo --model out/sft --data python/fmops/data/demo/dpo.jsonl --output out/dpo
    fmops dpo --model s3://b/sft --data s3://b/pairs.parquet --output s3://b/dpo --beta 0.1 --loss sigmoid

--data: JSON lines or parquet, every record {"prompt", "chosen", "rejected"}, all strings or all message lists.
Output as `fmops sft`. Settings: TRL's DPOConfig names (fmops.finetune.config.DPOStageConfig).
Manual: python/fmops/finetune/README.md
"""


def finetune_arguments(parser: argparse.ArgumentParser, model_help: str) -> None:
    """The flags `fmops sft` and `fmops dpo` share."""
    parser.add_argument("--model", required=True, help=model_help)
    parser.add_argument("--data", required=True, nargs="+", help=".jsonl/.json/.parquet URIs, or comma-separated lists")
    parser.add_argument("--output", required=True, help="output directory or s3:// URI")
    parser.add_argument("--lora", action="store_const", const=True, default=None, help="same as --set lora=true")
    parser.add_argument("--results-dir", default="", help="also write metrics.json here (Argo outputs)")
    options.add_config_arguments(parser)


def sft_arguments(parser: argparse.ArgumentParser) -> None:
    finetune_arguments(parser, "model to tune: fmops output dir, HF dir, s3:// or hub id")


def sft(args: argparse.Namespace) -> int:
    config = options.load_config(SFTStageConfig, "sft", args, lora=args.lora)
    runner.sft(model=args.model, data=args.data, output=args.output, config=config, results_dir=args.results_dir)
    return 0


def dpo_arguments(parser: argparse.ArgumentParser) -> None:
    finetune_arguments(parser, "model to align (usually an `fmops sft` output)")
    parser.add_argument("--beta", default="", help="DPO beta ('' = the config's)")
    parser.add_argument("--loss", default="", help="TRL loss_type, comma-separated ('' = the config's)")


def dpo(args: argparse.Namespace) -> int:
    beta = options.optional_number("--beta", args.beta, float)
    config = options.load_config(DPOStageConfig, "dpo", args, beta=beta, loss_type=args.loss or None, lora=args.lora)
    runner.dpo(model=args.model, data=args.data, output=args.output, config=config, results_dir=args.results_dir)
    return 0


COMMANDS = {
    "sft": Command(SFT, sft_arguments, sft),
    "dpo": Command(DPO, dpo_arguments, dpo),
}
