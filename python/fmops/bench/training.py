"""Pretraining throughput: the stage's own training function against the tuned Trainer, measured in child
processes on one device (`fmops bench pretrain`; benchmarks/README.md documents the command and its JSON)."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from fmops.core import storage
from fmops.core.errors import InputError

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "seq_len": 128,
        "batch": 4,
        "shape": {
            "hidden_size": 128,
            "intermediate_size": 384,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 512,
            "tie_word_embeddings": True,
        },
    },
    "124m": {
        "seq_len": 1024,
        "batch": 16,
        "shape": {
            "hidden_size": 768,
            "intermediate_size": 2048,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "num_key_value_heads": 12,
            "vocab_size": 50257,
            "tie_word_embeddings": True,
        },
    },
    "1b": {
        "seq_len": 2048,
        "batch": 8,
        "shape": {
            "hidden_size": 2048,
            "intermediate_size": 8192,
            "num_hidden_layers": 16,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "vocab_size": 32000,
            "tie_word_embeddings": False,
        },
    },
}
REQUIRED_SIZES = ("124m", "1b")  # the sizes an H100 record always reports (null where not run)
# The tuned Trainer measured once on one H100: a run whose own baseline is >5% below it ran on a slower machine
# or setup, so its ratio is not comparable (it is marked invalid).
ANCHOR = {
    "124m": {"batch": 16, "seq_len": 1024, "tokens_per_s": 287_041},
    "1b": {"batch": 8, "seq_len": 2048, "tokens_per_s": 60_438},
}
VERSIONED = ("torch", "transformers", "accelerate", "trl", "datasets", "pydantic", "liger-kernel", "fmops")


def _integer(flag: str, text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{flag} {text!r}: expected an integer") from None
    if value < minimum:
        raise InputError(f"{flag} {value}: must be at least {minimum}")
    return value


def plan(*, model_size: str, steps: str, warmup: str, batch: str = "", seq_len: str = "") -> dict[str, dict]:
    """size -> {steps, warmup, batch, seq_len} from the flags' text; raises InputError naming the flag."""
    sizes = [s.strip() for s in model_size.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or not sizes:
        raise InputError(f"--model-size {model_size!r}: expected {', '.join(SIZES)} (comma-separated)")
    timed, untimed = _integer("--steps", steps, 1), _integer("--warmup", warmup, 1)
    batch_size = _integer("--batch", batch, 1) if batch.strip() else None
    length = _integer("--seq-len", seq_len, 8) if seq_len.strip() else None
    return {
        size: {
            "steps": timed,
            "warmup": untimed,
            "batch": batch_size or SIZES[size]["batch"],
            "seq_len": length or SIZES[size]["seq_len"],
        }
        for size in dict.fromkeys(sizes)
    }


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
    return {
        "anchor_tokens_per_s": anchor["tokens_per_s"],
        "baseline_tokens_per_s": measured,
        "baseline_vs_anchor": measured / anchor["tokens_per_s"],
        "valid": measured >= 0.95 * anchor["tokens_per_s"],
        "note": "a baseline more than 5% below the anchor makes the run invalid (a slower machine or setup)"
        + (
            "; the anchor is the GPT-2 124M shape, this run a Llama shape of the same size and 6N FLOPs"
            if size == "124m"
            else ""
        ),
    }


def report(runs: dict[str, dict[str, Any]], command: str) -> dict[str, Any]:
    first = next(iter(runs.values()))
    device, mfu_note = first["device"], first["ours"]["mfu_note"]
    gpu = first["ours"]["mfu"] is not None or device.startswith(("NVIDIA", "cuda"))
    on_h100 = "H100" in device
    note = "one GPU, both measurements in one process"
    if not gpu:
        note = (
            f"CPU rehearsal on {device}: not the H100 measurement; the baseline runs "
            "without bf16, torch.compile and fused AdamW, which a CPU lacks, so the ratio says nothing about "
            "GPUs"
        )
    date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    result: dict[str, Any] = {
        "benchmark": "fmops bench pretrain",
        "command": command,
        "note": note,
        "device": device,
        "date": date,
        "versions": versions(),
        "mfu_note": mfu_note,
    }
    for size in (*REQUIRED_SIZES, *(s for s in runs if s not in REQUIRED_SIZES)):
        run = runs.get(size)
        result[f"ratio_{size}"] = run["ratio"] if run else None
        result[f"mfu_{size}"] = run["ours"]["mfu"] if run else None
    for key in ("tokens_per_s", "peak_memory_gib"):
        result[key] = {
            size: ({"ours": runs[size]["ours"][key], "baseline": runs[size]["baseline"][key]} if size in runs else None)
            for size in (*REQUIRED_SIZES, *runs)
        }
    result["peak_memory_kind"] = kind = first["ours"]["peak_memory_kind"]
    result["peak_memory_note"] = (
        "peak resident set of the measurement's own process"
        if kind == "process_max_rss"
        else "torch.cuda.max_memory_allocated of the measurement's own process"
    )
    result["anchor"] = {size: anchor_check(size, run, on_h100) for size, run in runs.items() if size in ANCHOR}
    result["runs"] = runs
    return result


def table(result: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return f"{value:.1%}" if value is not None else "n/a"

    lines = [
        f"{result['device']} | {result['date']}",
        f"{'size':<5} {'configuration':<9} {'batch':>5} {'seq':>5} {'tokens/s':>12} {'MFU':>6} "
        f"{'peak GiB':>9} {'ours/baseline':>14}",
    ]
    for size, run in result["runs"].items():
        for name in ("ours", "baseline"):
            m = run[name]
            ratio = f"{run['ratio']:.2f}x" if name == "ours" and run["ratio"] else ""
            lines.append(
                f"{size:<5} {name:<9} {run['batch']:>5} {run['seq_len']:>5} {m['tokens_per_s']:>12,.0f} "
                f"{pct(m['mfu']):>6} {m['peak_memory_gib']:>9.2f} {ratio:>14}"
            )
    lines.append(f"MFU: {result['mfu_note']}; peak memory: {result['peak_memory_kind']}")
    return "\n".join(lines)


def measure(which: str, size: str, settings: dict[str, Any], workdir: Path) -> dict[str, Any] | None:
    """One measurement in a child process of its own (training_measure's docstring says why); None if it failed."""
    out = workdir / f"{size}-{which}.json"
    command = [
        sys.executable,
        "-m",
        "fmops.bench.training_measure",
        which,
        json.dumps(SIZES[size]["shape"]),
        json.dumps(settings),
        str(out),
    ]
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
    return {
        **settings,
        "device": ours.pop("device"),
        "shape": ours.pop("shape"),
        "ours": ours,
        "baseline": baseline,
        "ratio": ratio,
    }


def bench(
    sizes: dict[str, dict[str, Any]], *, output: str = "", command: str = "fmops bench pretrain"
) -> dict[str, Any] | None:
    """Measure each size of `sizes` (from plan()), one after another. The JSON (the returned dict; `failed` lists
    the sizes whose measurement failed) is rewritten to `output` after each, so a later failure (an OOM) keeps
    the rest. None when no size could be measured."""
    runs: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    result: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="fmops-bench-pretrain-") as tmp:
        for size, settings in sizes.items():
            measured = measure_size(size, settings, Path(tmp))
            if measured is None:
                failed.append(size)
                continue
            runs[size] = measured
            result = {**report(runs, command), "failed": failed}
            if output:
                storage.write_json(output, result)
    if result is not None:
        result["failed"] = failed
        if output:
            storage.write_json(output, result)
    return result
