"""Instruction-tune a causal LM with TRL's SFTTrainer: loss on assistant (or completion) tokens only.

    fmops sft --model out/pretrain --data python/fmops/data/demo/sft.jsonl --output out/sft
    fmops sft --model s3://b/pretrain --data s3://b/a.jsonl,s3://b/b.parquet --output s3://b/sft --set lora=true

Data: JSON lines (.jsonl, .json) or parquet (.parquet) files, local, file:// or s3://, read with Hugging Face
`datasets`; every record either {"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}
(loss on the assistant turns through their end-of-turn token, for any chat template: TRL masks by
`{% generation %}` markers where the template has them, fmops finds the turns in the rendered conversation
otherwise) or {"prompt": ..., "completion": ...} (strings or message lists; loss on the completion), one shape
in all files. Every record is checked before training starts; an error names `file:line`, or for parquet
`file.parquet:row N` (rows counted from 1; a null is a missing field).
Examples are packed into blocks of `max_length` tokens (`packing`, TRL's best-fit decreasing by default:
padding-free, no example cut).
Output: the HF model at the root with the tokenizer and the chat template it trained with (evaluation and
serving render prompts with that same template), `checkpoints/` (a rerun resumes), metrics.json, manifest.json.
LoRA (`--set lora=true`): the merged full model at the root, the adapter in `adapter/` (see fmops.finetune.lora).

Metrics (metrics.json, also into --results-dir): loss (last logged window), mean_token_accuracy, train_loss
(whole-run mean), num_tokens, steps, train_runtime_s, train_samples_per_second.

Multi-GPU: `fmops launch --gpus-per-node G --strategy S -- sft ...`: ddp when the model with its AdamW state
fits one GPU (up to ~1B parameters on 80 GB, or larger with lora=true), fsdp2 for full finetuning of bigger
models (7B+), zero3 where DeepSpeed is preferred or optimizer CPU offload is needed.

Settings (--config RECIPE|FILE, --set KEY=VALUE): TRL's SFTConfig field names, passed to it unchanged
(num_train_epochs, learning_rate, per_device_train_batch_size, lr_scheduler_type, warmup_steps, packing, ...,
or any other SFTConfig field), plus fmops' own: lora, lora_r, lora_alpha, lora_dropout, lora_target_modules,
chat_template, cpu_threads (fmops.finetune.config).
"""

from __future__ import annotations

import argparse

from fmops.cli import options
from fmops.finetune.config import SFTStageConfig
from fmops.finetune.runner import sft


def add_finetune_arguments(parser: argparse.ArgumentParser, model_help: str) -> None:
    """The flags `fmops sft` and `fmops dpo` share."""
    parser.add_argument("--model", required=True, help=model_help)
    parser.add_argument("--data", required=True, nargs="+", help=".jsonl/.json/.parquet URIs, or comma-separated lists")
    parser.add_argument("--output", required=True, help="output directory or s3:// URI")
    parser.add_argument("--lora", action="store_const", const=True, default=None, help="same as --set lora=true")
    parser.add_argument("--results-dir", default="", help="also write metrics.json here (Argo outputs)")
    options.add_config_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_finetune_arguments(parser, "model to tune: fmops output dir, HF dir, s3:// or hub id")


def run(args: argparse.Namespace) -> int:
    config = options.load_config(SFTStageConfig, "sft", args, lora=args.lora)
    sft(model=args.model, data=args.data, output=args.output, config=config, results_dir=args.results_dir)
    return 0
