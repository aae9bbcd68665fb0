"""Continue pretraining a causal LM on new text, replaying earlier data, resumable from checkpoints.

    fmops demo --output demo-data
    fmops pretrain --model tiny --data demo-data/pretrain.jsonl --output out/pretrain
    fmops pretrain --model registry/models/demo/latest --data s3://bucket/new/ --replay demo-data/replay.jsonl \\
        --replay-ratio 0.25 --output s3://bucket/runs/cpt-1 --config demo --set learning_rate=1e-3

Continuous pretraining (Ibrahim et al. 2024): start from an existing model (a path, s3://, a hub id, or a
registry pointer such as <root>/models/<name>/latest), re-warm and re-decay the LR (warmup_stable_decay or
cosine_with_min_lr, both with a floor), mix a fraction --replay-ratio of every batch from --replay, and watch
the replay loss: its rise from the start (`forgetting`) is the forgetting signal. `--model tiny` builds a
fresh ~1M-parameter Llama.

Data (--data, --replay): raw text files (.jsonl `text`, .txt, .parquet; tokenized in memory at the start:
for small corpora), or one prepared dataset from `fmops tokenize` (a directory or s3:// prefix with
index.json): its token shards stay on storage and every rank reads only the blocks it trains on (memory-mapped
locally, ranged reads on s3://), so memory stays flat whatever the corpus size. The dataset must have been
tokenized with this model's tokenizer (`--model tiny` uses the tokenizer saved with the shards); held-out
text is the dataset's tail from a document start on. `--set separate_documents=true`: packed documents do not
attend to each other (position ids restart after each EOS; block-diagonal causal mask).

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
the peak table; mfu_note says why), peak_memory_gib and peak_memory_kind, device, world_size, optimizer
(AdamW) and fused (whether its fused kernel ran: on CUDA), tokens_per_rank, parameters, train_seconds,
resumed_at (steps a rerun resumed from), history (per step: step, loss, lr, grad_norm, tokens, seconds, first;
the losses are read back from the device every logging_steps, so on a GPU one step's seconds is not its own
time, a sum over logging_steps steps is) and evals (per evaluation: step, eval_loss, replay_loss).

Settings (--config RECIPE|FILE, --set KEY=VALUE, or the flags below) carry Hugging Face TrainingArguments'
names where it has one: learning_rate, max_steps, per_device_train_batch_size, gradient_accumulation_steps,
max_length (the packed block), lr_scheduler_type, warmup_steps, save_steps, save_total_limit, eval_steps,
logging_steps, adam_beta1/adam_beta2, max_grad_norm, weight_decay, bf16, seed (fmops.training.config).
Speed settings, off by default (`--config gpu` turns on what should be fastest on an H100/H200): torch_compile
(torch_compile_scope blocks|model), activation_checkpointing (none|full|selective), liger (needs liger-kernel),
attn_implementation (sdpa|eager|flash_attention_2), tf32; they change throughput and memory, not the losses
beyond float rounding.
"""

from __future__ import annotations

import argparse
import sys

from fmops.cli import options
from fmops.training.config import PretrainConfig
from fmops.training.pretrain import STAGE, pretrain

# config fields that also have a flag of their own (--max-steps for max_steps, ...), with their types
FLAGS = {"max_steps": int, "tokens": int, "max_length": int, "per_device_train_batch_size": int,
         "learning_rate": float, "lr_scheduler_type": str, "warmup_steps": float, "min_lr_ratio": float,
         "save_steps": int, "seed": int}  # fmt: skip


def _optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="tiny | path | s3:// | hub id | registry pointer")
    parser.add_argument("--data", nargs="+", required=True,
                        help="files/dirs (.jsonl, .txt, .parquet), commas ok, or one fmops tokenize output")
    parser.add_argument("--output", required=True, help="output directory or s3:// URI")
    parser.add_argument("--replay", default="", help="earlier corpus to replay (files/dirs, comma-separated)")
    parser.add_argument("--replay-ratio", type=_optional_float, help="fraction of sequences from --replay")
    parser.add_argument("--results-dir", default="", help="also write metrics.json and loss.png here")
    for name, kind in FLAGS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None,
                            help=PretrainConfig.model_fields[name].description)  # fmt: skip
    options.add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    flags = {name: getattr(args, name) for name in [*FLAGS, "replay_ratio"]}
    config = options.load_config(PretrainConfig, STAGE, args, **flags)
    result = pretrain(model=args.model, data=args.data, output=args.output, config=config, replay=[args.replay],
                      results_dir=args.results_dir or None)  # fmt: skip
    if result.metrics is not None:
        print(f"fmops pretrain: wrote {result.output}")
    elif result.already_complete:
        print(f"{result.output}: already complete (manifest.json present); nothing to do", file=sys.stderr)
    return 0
