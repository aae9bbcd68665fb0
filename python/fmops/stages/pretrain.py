"""Continue pretraining a causal LM on new text, replaying earlier data, resumable from checkpoints.

    fmops demo --output demo-data
    fmops pretrain --model tiny --data demo-data/pretrain.jsonl --output out/pretrain
    fmops pretrain --model registry/models/demo/latest --data s3://bucket/new/ --replay demo-data/replay.jsonl \\
        --replay-ratio 0.25 --output s3://bucket/runs/cpt-1 --config demo --set lr=1e-3

Continuous pretraining (Ibrahim et al. 2024): start from an existing model (a path, s3://, a hub id, or a
registry pointer such as <root>/models/<name>/latest), re-warm and re-decay the LR (wsd or cosine with a
floor), mix a fraction --replay-ratio of every batch from --replay, and watch the replay loss: its rise from
the start (`forgetting`) is the forgetting signal. `--model tiny` builds a fresh ~1M-parameter Llama.

Which path for which size:
    laptop / CI, tiny model          fmops pretrain ... (one process, CPU or one GPU)
    one node, several GPUs           fmops launch --gpus-per-node 8 --strategy ddp|fsdp2 -- pretrain ...
                                     (or torchrun --nproc_per_node 8 -m fmops pretrain ...); DDP while the
                                     model + AdamW state fit one GPU (up to ~1B params on 80 GB), FSDP2 above
    several nodes                    the template's `nodes` > 1: a Kubeflow PyTorchJob runs `fmops launch` in
                                     every pod; use s3:// (or a shared filesystem) for --output
Only rank 0 writes the model, metrics, plot and manifest; every rank takes part in checkpoint saving.

Output (--output): the HF model (safetensors, config, tokenizer with its chat template), metrics.json,
loss.png, checkpoints/step-N/ (visible only when complete; a rerun with the same --output resumes from the
newest), and manifest.json last. --results-dir also gets metrics.json and loss.png.

metrics.json: steps, tokens (trained, all ranks), train_loss (mean of the last 10 steps), eval_loss_start,
eval_loss (held-out loss of the new data, nats/token), unigram_entropy (of the training tokens, nats/token:
eval_loss below it means the model learned more than token frequencies), replay_loss_start, replay_loss,
forgetting (replay_loss - replay_loss_start; null without --replay), tokens_per_s (all ranks, steps after the
first of each process), tokens_per_s_per_device, flops_per_token (6N + 12·L·H·Q·T), mfu (null off a GPU of
the peak table; mfu_note says why), peak_memory_gib and peak_memory_kind, device, world_size,
tokens_per_rank, parameters, train_seconds, resumed_at (steps a rerun resumed from), history (per step:
step, loss, lr, grad_norm, tokens, seconds, first) and evals (per evaluation: step, eval_loss, replay_loss).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from fmops.cli import options
from fmops.core import config, manifest, storage
from fmops.core.errors import InputError
from fmops.training import model as model_source
from fmops.training.config import TrainConfig
from fmops.training.text_data import Corpus, read_corpus

STAGE = "pretrain"


class PretrainConfig(TrainConfig):
    """The training loop's fields plus what continuous pretraining adds."""

    replay_ratio: float = Field(0.0, ge=0, lt=1, description="fraction of training sequences drawn from --replay")
    held_out_fraction: float = Field(0.05, gt=0, lt=0.5, description="documents held out for eval_loss")
    vocab_size: int = Field(512, ge=300, description="tiny model only: BPE vocabulary size")


@dataclass(frozen=True)
class Inputs:
    model: str
    data: Corpus
    replay: Corpus | None


def _optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="tiny | path | s3:// | hub id | registry pointer")
    parser.add_argument("--data", nargs="+", required=True, help="files/dirs (.jsonl, .txt, .parquet), commas ok")
    parser.add_argument("--output", required=True, help="output directory or s3:// URI")
    parser.add_argument("--replay", default="", help="earlier corpus to replay (files/dirs, comma-separated)")
    parser.add_argument("--replay-ratio", type=_optional_float, help="fraction of sequences from --replay")
    parser.add_argument("--results-dir", default="", help="also write metrics.json and loss.png here")
    for flag, kind, text in [
        ("--steps", int, "optimizer steps"), ("--tokens", int, "token budget (overrides --steps)"),
        ("--seq-len", int, "tokens per packed sequence"), ("--batch-size", int, "sequences per device per step"),
        ("--lr", float, "peak learning rate"), ("--schedule", str, "wsd | cosine"),
        ("--warmup-steps", int, "warm-up steps"), ("--min-lr-ratio", float, "LR floor as a fraction of --lr"),
        ("--checkpoint-interval", int, "checkpoint every N steps"), ("--seed", int, "random seed"),
    ]:  # fmt: skip
        parser.add_argument(flag, type=kind, default=None, help=text)
    options.add_config_arguments(parser)


def load_config(args: argparse.Namespace) -> PretrainConfig:
    names = ["steps", "tokens", "seq_len", "batch_size", "lr", "schedule", "warmup_steps", "min_lr_ratio",
             "checkpoint_interval", "seed", "replay_ratio"]  # fmt: skip
    flags = {name: getattr(args, name) for name in names}
    return config.load(PretrainConfig, STAGE, args.config, args.overrides, **flags)


def validate(args: argparse.Namespace, cfg: PretrainConfig) -> Inputs:
    """Every input checked (paths, every line) before torch is imported."""
    model = model_source.check(args.model)
    data = read_corpus(args.data, "--data")
    replay = read_corpus([args.replay], "--replay") if args.replay else None
    if cfg.replay_ratio > 0 and replay is None:
        raise InputError(f"--replay-ratio {cfg.replay_ratio}: needs --replay")
    return Inputs(model=model, data=data, replay=replay)


def already_complete(output: str, cfg: PretrainConfig) -> bool:
    if not storage.exists(storage.join(output, manifest.MANIFEST)):
        return False
    if manifest.read(output).get("config") != cfg.model_dump():
        raise InputError(f"{output}: holds a complete run with a different config; choose another --output")
    return True


def run(args: argparse.Namespace) -> int:
    started = manifest.now()
    cfg = load_config(args)
    inputs = validate(args, cfg)
    if already_complete(args.output, cfg):
        print(f"{args.output}: already complete (manifest.json present); nothing to do", file=sys.stderr)
        return 0
    from fmops.training.pretrain_run import pretrain  # imports torch: only after the inputs are valid

    with tempfile.TemporaryDirectory(prefix="fmops-pretrain-") as workdir:
        metrics = pretrain(inputs, cfg, args.output, Path(workdir), args.results_dir or None)
    if metrics is None:  # not rank 0
        return 0
    described = manifest.describe_inputs(
        {"data": inputs.data.files, "replay": inputs.replay.files if inputs.replay else []}
    )
    model_input: Any = {"uri": args.model, "resolved": inputs.model}
    if manifest.looks_like_path(inputs.model):
        model_input["sha256"] = storage.sha256(inputs.model)
    manifest.write(args.output, stage=STAGE, inputs={"model": model_input, **described},
                   config=cfg.model_dump(), metrics=_scalars(metrics), started_at=started)  # fmt: skip
    print(f"fmops pretrain: wrote {args.output}")
    return 0


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if not isinstance(v, list | dict)}
