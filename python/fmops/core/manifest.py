"""`manifest.json`: written last and atomically; its presence is what "this stage output is complete" means.

Every stage records its inputs (with sha256), the full resolved config, the git commit and package version
it ran from, its metrics and its start/end time. The next stage refuses an output without one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmops import __version__
from fmops.core import storage
from fmops.core.errors import InputError

MANIFEST = "manifest.json"
METRICS = "metrics.json"
SAFETENSORS_ONLY = (
    "no *.safetensors weights; a model is loaded from safetensors only (pickled weights such as "
    "pytorch_model.bin can run code when loaded)"
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def git_commit() -> str:
    """The commit the code runs from: baked into images as FMOPS_GIT_COMMIT, else asked of git."""
    if commit := os.environ.get("FMOPS_GIT_COMMIT"):
        return commit
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def torch_runtime() -> dict[str, str] | None:
    """The torch build and the CPU kernels it ran with, where this process ran torch (None where it did not).

    `ATEN_CPU_CAPABILITY` (default | avx2 | avx512 on x86) picks the kernels and changes float results, so two
    runs of the same recipe on different CPUs can differ: the manifest says which kernels produced the output.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return {"version": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def describe_inputs(uris: dict[str, str | list[str]]) -> dict[str, Any]:
    """{"data": [{"uri": ..., "sha256": ...}], ...} for every named input that is a path or URI."""
    described: dict[str, Any] = {}
    for name, value in uris.items():
        values = value if isinstance(value, list) else [value]
        entries = [
            {"uri": uri, "sha256": storage.sha256(uri) if storage.exists(uri) else None} for uri in values if uri
        ]
        described[name] = entries if isinstance(value, list) else (entries[0] if entries else None)
    return described


def write_metrics(output: str, metrics: dict[str, Any], results_dir: str | None = None) -> str:
    """`<output>/metrics.json`, and a copy in `results_dir` (a local dir Argo reads outputs from). Returns its URI."""
    uri = storage.join(output, METRICS)
    storage.write_json(uri, metrics)
    if results_dir:
        Path(results_dir).mkdir(parents=True, exist_ok=True)
        storage.write_json(str(Path(results_dir) / METRICS), metrics)
    return uri


def write(
    output: str,
    *,
    stage: str,
    inputs: dict[str, Any],
    config: dict[str, Any],
    metrics: dict[str, Any],
    started_at: str,
) -> str:
    """Write `<output>/manifest.json` (call this last). Returns its URI."""
    uri = storage.join(output, MANIFEST)
    storage.write_json(
        uri,
        {
            "stage": stage,
            "inputs": inputs,
            "config": config,
            "git_commit": git_commit(),
            "package_version": __version__,
            "torch": torch_runtime(),
            "metrics": metrics,
            "started_at": started_at,
            "finished_at": now(),
        },
    )
    return uri


def read(output: str) -> dict[str, Any]:
    return storage.read_json(storage.join(output, MANIFEST))


def looks_like_path(uri: str) -> bool:
    """A path or URI, as opposed to a hub id such as `gpt2` or `Qwen/Qwen2.5-0.5B`."""
    explicit = uri.startswith(("/", ".", "~", "file://")) or storage.is_remote(uri)
    return explicit or uri.count("/") > 1 or os.path.exists(uri)


def require_complete_model(uri: str) -> str:
    """Accept a complete fmops output, a plain Hugging Face model directory, or a hub id; refuse the rest.

    An fmops stage output (it has metrics.json or checkpoints/) without manifest.json did not finish: it is
    refused. A directory must hold *.safetensors weights: a pytorch_model.bin is a pickle, and loading one
    can run code. A name that is not a path is taken as a hub id and left for transformers to resolve.
    """
    if not looks_like_path(uri):
        return uri
    if not storage.exists(uri):
        raise InputError(f"{uri}: model path does not exist")
    if not storage.isdir(uri):
        raise InputError(f"{uri}: model path is a file, expected a model directory")
    names = set(storage.listdir(uri))
    if MANIFEST not in names and (METRICS in names or "checkpoints" in names):
        raise InputError(f"{uri}: incomplete fmops output (no {MANIFEST}); the stage that writes it did not finish")
    if MANIFEST not in names and "config.json" not in names:
        raise InputError(f"{uri}: not a model directory (no config.json)")
    if not any(name.endswith(".safetensors") for name in names):
        raise InputError(f"{uri}: {SAFETENSORS_ONLY}")
    return uri
