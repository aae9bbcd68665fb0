"""Pretraining throughput: the stage's own training function against the tuned Trainer, in one run on one device.

    fmops bench pretrain --model-size tiny --steps 3 --warmup 1 --output bench.json     # CPU rehearsal
    fmops bench pretrain --model-size 124m,1b --steps 30 --warmup 10 --output benchmarks/pretrain-h100.json

For each size: (a) `ours`, `fmops.training.loop.train()` — the function `fmops pretrain` runs — with the
stage's accelerator and, on a GPU, its GPU recipe (`--config gpu`; on a CPU the default config), on random
tokens; (b) `baseline`, transformers' `Trainer` with bf16=True, torch_compile=True, optim="adamw_torch_fused",
sdpa attention: the Trainer tuned as far as its own options go, the bar a hand-written loop must clear to be
worth keeping. Same model shape and
initial weights, same tokens per optimizer step (batch × seq_len) and sequence length; the first --warmup
optimizer steps of each are not timed. On CPU the baseline drops bf16, compile and fused AdamW (listed in
`dropped_on_cpu`). Both run in one command on the same device, one after the other, each in a fresh child
process: in one process, accelerate's shared state left by a Trainer would silently compile the next
`ours` (fmops.bench.training_measure says more); `runs.<size>.<ours|baseline>.compiled` records whether
each model that trained was compiled.
Nothing is downloaded: the models are built from the shapes below, the tokens are random.

Sizes (Llama shapes): tiny (~0.46M params, seq 128, batch 4: CPU tests); 124m (hidden 768, 12 layers,
12 heads, SwiGLU MLP 2048, vocab 50257 tied: the parameter count and per-token FLOPs of the GPT-2 124M shape
of the anchor measurement (ANCHOR), seq 1024, batch 16); 1b (hidden 2048, 16 layers, 32 heads / 8 KV heads,
MLP 8192, vocab 32000, untied: ~1.1B, seq 2048, batch 8).

JSON (--output): device, date, versions, note, ratio_124m, ratio_1b, mfu_124m, mfu_1b (ours' MFU; null where
a size was not run or off a GPU of fmops.training.flops' peak table, mfu_note says why), ratio_/mfu_ of any
other size run, tokens_per_s and peak_memory_gib ({size: {ours, baseline}}, null where not run), anchor
(the baseline against the anchor measurement of the same size and shape, where one exists), runs (every
detail per size), failed (sizes whose measurement failed: the others are kept, the exit status is 1; the JSON
is rewritten after each size). A run off a GPU is marked in `note` as a rehearsal, not the measurement
benchmarks/pretrain-h100.json records.

On one H100 (the measurement benchmarks/pretrain-h100.json records; a few minutes with both sizes' compiles):
the machine has torch, transformers, accelerate, peft and safetensors, not pydantic (fmops.core.config needs
it); this benchmark needs neither trl nor datasets (beware: transformers imports `datasets` whenever it is
installed, so a `--no-deps` datasets wheel without pyarrow, dill, multiprocess and xxhash breaks the Trainer import).
Download the wheels where there is an index, copy them over, and run from the source tree (no build step):
    pip download -d wheels --python-version 3.12 --platform manylinux2014_x86_64 --only-binary=:all: \
        --no-deps pydantic pydantic-core annotated-types typing-inspection liger-kernel  # the GPU recipe uses Liger
    pip install --no-deps wheels/*.whl
    PYTHONPATH=python python -m fmops bench pretrain --model-size 124m,1b --steps 30 --warmup 10 \
        --output benchmarks/pretrain-h100.json
Check before committing: `anchor.<size>.valid` true (else the run does not count), `runs.<size>.baseline
.compiled` true, and nothing in `failed`.
"""

from __future__ import annotations

import argparse
import os
import sys

from fmops.bench.training import bench, plan, table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Numbers are parsed in fmops.bench.training.plan(): a bad value is one line (InputError), not a usage block.
    parser.add_argument("--model-size", default="124m,1b", help="tiny | 124m | 1b, comma-separated (124m,1b)")
    parser.add_argument("--steps", default="30", help="timed optimizer steps per measurement (30)")
    parser.add_argument("--warmup", default="10", help="untimed optimizer steps before them, at least 1 (10)")
    parser.add_argument("--batch", default="", help="sequences per optimizer step (default per size: 4/16/8)")
    parser.add_argument("--seq-len", default="", help="tokens per sequence (default per size: 128/1024/2048)")
    parser.add_argument("--output", default="", help="write the JSON result here (path or URI)")


def run(args: argparse.Namespace) -> int:
    settings = plan(model_size=args.model_size, steps=args.steps, warmup=args.warmup, batch=args.batch,
                    seq_len=args.seq_len)  # fmt: skip
    threads = os.environ.get("OMP_NUM_THREADS")
    command = " ".join([*([f"OMP_NUM_THREADS={threads}"] if threads else []), "fmops", *sys.argv[1:]])
    result = bench(settings, output=args.output, command=command)
    if result is None:
        print("bench pretrain: no size was measured", file=sys.stderr)
        return 1
    print(table(result))
    if args.output:
        print(f"wrote {args.output}")
    return 1 if result["failed"] else 0
