"""Pretraining throughput: the stage's own training function against the tuned Trainer, in one run on one device.

    fmops bench pretrain --model-size tiny --steps 3 --warmup 1 --output bench.json     # CPU rehearsal
    fmops bench pretrain --model-size 124m,1b --steps 30 --warmup 10 --output benchmarks/pretrain-h100.json

For each size: (a) `ours`, `fmops.training.loop.train()` — the function `fmops pretrain` runs — with the
stage's accelerator and default config, on random tokens; (b) `baseline`, transformers' `Trainer` with
bf16=True, torch_compile=True, optim="adamw_torch_fused", sdpa attention (issue 9). Same model shape and
initial weights, same tokens per optimizer step (batch × seq_len) and sequence length; the first --warmup
optimizer steps of each are not timed. On CPU the baseline drops bf16, compile and fused AdamW (listed in
`dropped_on_cpu`). Both run in one command on the same device, one after the other, each in a fresh child
process: in one process, accelerate's shared state left by a Trainer would silently compile the next
`ours` (fmops.bench.pretrain_measure says more); `runs.<size>.<ours|baseline>.compiled` records whether
each model that trained was compiled.
Nothing is downloaded: the models are built from the shapes below, the tokens are random.

Sizes (Llama shapes): tiny (~0.46M params, seq 128, batch 4: CPU tests); 124m (hidden 768, 12 layers,
12 heads, SwiGLU MLP 2048, vocab 50257 tied: the parameter count and per-token FLOPs of the GPT-2 124M shape
the issue's anchor table uses, seq 1024, batch 16); 1b (hidden 2048, 16 layers, 32 heads / 8 KV heads,
MLP 8192, vocab 32000, untied: ~1.1B, seq 2048, batch 8).

JSON (--output): device, date, versions, note, ratio_124m, ratio_1b, mfu_124m, mfu_1b (ours' MFU; null where
a size was not run or off a GPU of fmops.training.flops' peak table, mfu_note says why), ratio_/mfu_ of any
other size run, tokens_per_s and peak_memory_gib ({size: {ours, baseline}}, null where not run), anchor
(the baseline against issue 9's anchor row, where one matches), runs (every detail per size), failed
(sizes whose measurement failed: the others are kept, the exit status is 1; the JSON is rewritten after
each size). A run off a GPU is marked in `note` as a rehearsal, not the issue's measurement.

On one H100 (issue 9's measurement; a few minutes with both sizes' compiles): the machine has torch,
transformers, accelerate, peft and safetensors, not pydantic (fmops.core.config needs it); this benchmark needs
neither trl nor datasets (beware: transformers imports `datasets` whenever it is installed, so a
`--no-deps` datasets wheel without pyarrow, dill, multiprocess and xxhash breaks the Trainer import).
Download the wheels where there is an index, copy them over, and run from the source tree (no build step):
    pip download -d wheels --python-version 3.12 --platform manylinux2014_x86_64 --only-binary=:all: \
        --no-deps pydantic pydantic-core annotated-types typing-inspection  # + liger-kernel once the stage uses it
    pip install --no-deps wheels/*.whl
    PYTHONPATH=python python -m fmops bench pretrain --model-size 124m,1b --steps 30 --warmup 10 \
        --output benchmarks/pretrain-h100.json
Check before committing: `anchor.<size>.valid` true (else the run does not count), `runs.<size>.baseline
.compiled` true, and nothing in `failed`.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from fmops.core import storage
from fmops.core.errors import InputError

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"seq_len": 128, "batch": 4, "shape": {
        "hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 512, "tie_word_embeddings": True}},
    "124m": {"seq_len": 1024, "batch": 16, "shape": {
        "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 12,
        "num_key_value_heads": 12, "vocab_size": 50257, "tie_word_embeddings": True}},
    "1b": {"seq_len": 2048, "batch": 8, "shape": {
        "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
        "num_key_value_heads": 8, "vocab_size": 32000, "tie_word_embeddings": False}},
}  # fmt: skip
REQUIRED_SIZES = ("124m", "1b")  # the keys issue 9's benchmarks/pretrain-h100.json must carry
# Issue 9's anchor: the tuned Trainer on one H100 (a run whose baseline is >5% below it is not valid).
ANCHOR = {"124m": {"batch": 16, "seq_len": 1024, "tokens_per_s": 287_041},
          "1b": {"batch": 8, "seq_len": 2048, "tokens_per_s": 60_438}}  # fmt: skip
VERSIONED = ("torch", "transformers", "accelerate", "trl", "datasets", "pydantic", "liger-kernel", "fmops")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Numbers are parsed in validate(), so a bad value is one line (InputError), not argparse's usage block.
    parser.add_argument("--model-size", default="124m,1b", help="tiny | 124m | 1b, comma-separated (124m,1b)")
    parser.add_argument("--steps", default="30", help="timed optimizer steps per measurement (30)")
    parser.add_argument("--warmup", default="10", help="untimed optimizer steps before them, at least 1 (10)")
    parser.add_argument("--batch", default="", help="sequences per optimizer step (default per size: 4/16/8)")
    parser.add_argument("--seq-len", default="", help="tokens per sequence (default per size: 128/1024/2048)")
    parser.add_argument("--output", default="", help="write the JSON result here (path or URI)")


def _integer(flag: str, text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected an integer") from None
    if value < minimum:
        raise InputError(f"{flag} {value}: must be at least {minimum}")
    return value


def validate(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """size -> {steps, warmup, batch, seq_len}; raises InputError naming the flag."""
    sizes = [s.strip() for s in args.model_size.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or not sizes:
        raise InputError(f"--model-size {args.model_size!r}: expected {', '.join(SIZES)} (comma-separated)")
    steps = _integer("--steps", args.steps, 1)
    warmup = _integer("--warmup", args.warmup, 1)
    batch = _integer("--batch", args.batch, 1) if args.batch.strip() else None
    seq_len = _integer("--seq-len", args.seq_len, 8) if args.seq_len.strip() else None
    return {size: {"steps": steps, "warmup": warmup, "batch": batch or SIZES[size]["batch"],
                   "seq_len": seq_len or SIZES[size]["seq_len"]} for size in dict.fromkeys(sizes)}  # fmt: skip


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    import torch

    found["cuda"] = torch.version.cuda if torch.cuda.is_available() else None
    return found


def anchor_check(size: str, run: dict[str, Any], on_h100: bool) -> dict[str, Any] | None:
    anchor = ANCHOR.get(size)
    if anchor is None or not on_h100 or (run["batch"], run["seq_len"]) != (anchor["batch"], anchor["seq_len"]):
        return None
    measured = run["baseline"]["tokens_per_s"]
    return {"anchor_tokens_per_s": anchor["tokens_per_s"], "baseline_tokens_per_s": measured,
            "baseline_vs_anchor": measured / anchor["tokens_per_s"],
            "valid": measured >= 0.95 * anchor["tokens_per_s"],
            "note": "issue 9: a baseline more than 5% below the anchor makes the run invalid"
                    + ("; the anchor is the GPT-2 124M shape, this run a Llama shape of the same size and 6N FLOPs"
                       if size == "124m" else "")}  # fmt: skip


def report(runs: dict[str, dict[str, Any]], command: str) -> dict[str, Any]:
    first = next(iter(runs.values()))
    device, mfu_note = first["device"], first["ours"]["mfu_note"]
    gpu = first["ours"]["mfu"] is not None or device.startswith(("NVIDIA", "cuda"))
    on_h100 = "H100" in device
    note = "one GPU, both measurements in one process"
    if not gpu:
        note = (f"CPU rehearsal on {device}: not issue 9's measurement (that needs one H100); the baseline runs "
                "without bf16, torch.compile and fused AdamW, which a CPU lacks, so the ratio says nothing about "
                "GPUs")  # fmt: skip
    date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    result: dict[str, Any] = {"benchmark": "fmops bench pretrain", "command": command, "note": note,
                              "device": device, "date": date, "versions": versions(), "mfu_note": mfu_note}  # fmt: skip
    for size in (*REQUIRED_SIZES, *(s for s in runs if s not in REQUIRED_SIZES)):
        run = runs.get(size)
        result[f"ratio_{size}"] = run["ratio"] if run else None
        result[f"mfu_{size}"] = run["ours"]["mfu"] if run else None
    for key in ("tokens_per_s", "peak_memory_gib"):
        result[key] = {size: ({"ours": runs[size]["ours"][key], "baseline": runs[size]["baseline"][key]}
                              if size in runs else None) for size in (*REQUIRED_SIZES, *runs)}  # fmt: skip
    result["peak_memory_kind"] = kind = first["ours"]["peak_memory_kind"]
    result["peak_memory_note"] = ("peak resident set of the measurement's own process" if kind == "process_max_rss"
                                  else "torch.cuda.max_memory_allocated of the measurement's own process")  # fmt: skip
    result["anchor"] = {size: anchor_check(size, run, on_h100) for size, run in runs.items() if size in ANCHOR}
    result["runs"] = runs
    return result


def table(result: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return f"{value:.1%}" if value is not None else "n/a"

    lines = [f"{result['device']} | {result['date']}",
             f"{'size':<5} {'configuration':<9} {'batch':>5} {'seq':>5} {'tokens/s':>12} {'MFU':>6} "
             f"{'peak GiB':>9} {'ours/baseline':>14}"]  # fmt: skip
    for size, run in result["runs"].items():
        for name in ("ours", "baseline"):
            m = run[name]
            ratio = f"{run['ratio']:.2f}x" if name == "ours" and run["ratio"] else ""
            lines.append(f"{size:<5} {name:<9} {run['batch']:>5} {run['seq_len']:>5} {m['tokens_per_s']:>12,.0f} "
                         f"{pct(m['mfu']):>6} {m['peak_memory_gib']:>9.2f} {ratio:>14}")  # fmt: skip
    lines.append(f"MFU: {result['mfu_note']}; peak memory: {result['peak_memory_kind']}")
    return "\n".join(lines)


def measure(which: str, size: str, settings: dict[str, Any], workdir: Path) -> dict[str, Any] | None:
    """One measurement in a child process of its own (pretrain_measure's docstring says why); None if it failed."""
    out = workdir / f"{size}-{which}.json"
    command = [sys.executable, "-m", "fmops.bench.pretrain_measure", which, json.dumps(SIZES[size]["shape"]),
               json.dumps(settings), str(out)]  # fmt: skip
    print(f"bench pretrain {size} {which}: {settings}", file=sys.stderr, flush=True)
    if subprocess.run(command).returncode != 0 or not out.exists():
        print(f"bench pretrain: the {which} measurement of {size} failed (its log is above)", file=sys.stderr)
        return None
    return json.loads(out.read_text())


def measure_size(size: str, settings: dict[str, Any], workdir: Path) -> dict[str, Any] | None:
    ours = measure("ours", size, settings, workdir)
    baseline = measure("baseline", size, settings, workdir) if ours else None
    if ours is None or baseline is None:
        return None
    ratio = ours["tokens_per_s"] / baseline["tokens_per_s"] if baseline["tokens_per_s"] > 0 else None
    baseline = {k: v for k, v in baseline.items() if k not in ("device", "shape")}
    return {**settings, "device": ours.pop("device"), "shape": ours.pop("shape"), "ours": ours,
            "baseline": baseline, "ratio": ratio}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Sizes one after another; the JSON is rewritten after each, so a later failure (an OOM) keeps the rest."""
    plan = validate(args)
    threads = os.environ.get("OMP_NUM_THREADS")
    command = " ".join([*([f"OMP_NUM_THREADS={threads}"] if threads else []), "fmops", *sys.argv[1:]])
    runs: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    result: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="fmops-bench-pretrain-") as tmp:
        for size, settings in plan.items():
            measured = measure_size(size, settings, Path(tmp))
            if measured is None:
                failed.append(size)
                continue
            runs[size] = measured
            result = {**report(runs, command), "failed": failed}
            if args.output:
                storage.write_json(args.output, result)
    if result is None:
        print("bench pretrain: no size was measured", file=sys.stderr)
        return 1
    result["failed"] = failed
    print(table(result))
    if args.output:
        storage.write_json(args.output, result)
        print(f"wrote {args.output}")
    return 1 if failed else 0
