"""`fmops tokenize` and `fmops pretrain`: token shards for pretraining, and (continued) pretraining."""

from __future__ import annotations

import argparse
import sys

from fmops.cli import options
from fmops.cli.command import Command
from fmops.training import pretrain as pretraining
from fmops.training import tokenize as tokenizing
from fmops.training.config import PretrainConfig, TokenizeConfig

TOKENIZE = """Tokenize a text corpus once into binary token shards that `fmops pretrain --data` streams from storage.

    fmops tokenize --model tiny --data demo-data/pretrain.jsonl --output out/tokens
    fmops tokenize --model registry/models/demo/latest --data s3://bucket/new/ --output s3://bucket/tokens/new

--data: .jsonl (`text`), .txt (documents separated by blank lines) or .parquet (`text`), every line checked
first. Writes tokens-NNNNN.bin, documents.bin, index.json, metrics.json and manifest.json last.
Manual: python/fmops/training/README.md
"""

PRETRAIN = """Continue pretraining a causal LM on new text, replaying earlier data, resumable from checkpoints.

    fmops demo --output demo-data
    fmops pretrain --model tiny --data demo-data/pretrain.jsonl --output out/pretrain
    fmops pretrain --model registry/models/demo/latest --data s3://bucket/tokens/new --replay demo-data/replay.jsonl \\
        --replay-ratio 0.25 --output s3://bucket/runs/cpt-1 --config demo --set learning_rate=1e-3

Writes the HF model, metrics.json (fmops.training.metrics.PretrainMetrics), loss.png, checkpoints/ (a rerun
resumes from the newest complete one) and manifest.json last. Settings: --config RECIPE|FILE, --set KEY=VALUE
or the flags below (fmops.training.config.PretrainConfig).
Manual: python/fmops/training/README.md
"""

# config fields that also have a flag of their own (--max-steps for max_steps, ...), with their types
PRETRAIN_FLAGS = {
    "max_steps": int,
    "tokens": int,
    "max_length": int,
    "per_device_train_batch_size": int,
    "learning_rate": float,
    "lr_scheduler_type": str,
    "warmup_steps": float,
    "min_lr_ratio": float,
    "save_steps": int,
    "seed": int,
}


def tokenize_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="tiny | path | s3:// | hub id | registry pointer")
    parser.add_argument("--data", nargs="+", required=True, help="files/dirs (.jsonl, .txt, .parquet), commas ok")
    parser.add_argument("--output", required=True, help="output directory or s3:// URI")
    shard_help = TokenizeConfig.model_fields["shard_tokens"].description
    parser.add_argument("--shard-tokens", type=int, default=None, help=shard_help)
    options.add_config_arguments(parser)


def tokenize(args: argparse.Namespace) -> int:
    config = options.load_config(TokenizeConfig, tokenizing.STAGE, args, shard_tokens=args.shard_tokens)
    result = tokenizing.tokenize(model=args.model, data=args.data, output=args.output, config=config)
    if result.metrics is None:
        print(f"{result.output}: already complete (every shard matches its sha256); nothing to do", file=sys.stderr)
        return 0
    m = result.metrics
    print(
        f"fmops tokenize: wrote {result.output} ({m['tokens']:,} tokens, {m['documents']:,} documents, "
        f"{m['shards']} shards, {m['tokens_per_s']:,.0f} tokens/s)"
    )
    return 0


def optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


def pretrain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="tiny | path | s3:// | hub id | registry pointer")
    parser.add_argument(
        "--data", nargs="+", required=True, help="files/dirs (.jsonl, .txt, .parquet), commas ok, or one tokenized set"
    )
    parser.add_argument("--output", required=True, help="output directory or s3:// URI")
    parser.add_argument("--replay", default="", help="earlier corpus to replay (files/dirs, comma-separated)")
    parser.add_argument("--replay-ratio", type=optional_float, help="fraction of sequences from --replay")
    parser.add_argument("--results-dir", default="", help="also write metrics.json and loss.png here")
    for name, kind in PRETRAIN_FLAGS.items():
        help_text = PretrainConfig.model_fields[name].description
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None, help=help_text)
    options.add_config_arguments(parser)


def pretrain(args: argparse.Namespace) -> int:
    flags = {name: getattr(args, name) for name in [*PRETRAIN_FLAGS, "replay_ratio"]}
    config = options.load_config(PretrainConfig, pretraining.STAGE, args, **flags)
    result = pretraining.pretrain(
        model=args.model,
        data=args.data,
        output=args.output,
        config=config,
        replay=[args.replay],
        results_dir=args.results_dir or None,
    )
    if result.metrics is not None:
        print(f"fmops pretrain: wrote {result.output}")
    elif result.already_complete:
        print(f"{result.output}: already complete (manifest.json present); nothing to do", file=sys.stderr)
    return 0


COMMANDS = {
    "tokenize": Command(TOKENIZE, tokenize_arguments, tokenize),
    "pretrain": Command(PRETRAIN, pretrain_arguments, pretrain),
}
