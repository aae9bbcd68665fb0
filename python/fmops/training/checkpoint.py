"""Durable training checkpoints under `<output>/checkpoints/step-NNNNNNNN/`, visible only once complete.

A checkpoint holds what `accelerate` saves (model weights, optimizer, registered objects such as the LR
scheduler, and every rank's RNG state: `Accelerator.save_state`, which also handles FSDP/DeepSpeed shards),
plus `trainer_state.json` (step, metric history: the data position is the step, see sampling.py) and
whatever the caller adds (the tokenizer). `complete.json` is written last.

Local output: written into `checkpoints/.tmp-step-N/`, then renamed (atomic on one filesystem).
`s3://` output: staged locally, uploaded, and `complete.json` put last (S3 has no rename; a PUT is atomic),
so a reader never takes a prefix without its marker. `latest()` only sees complete checkpoints: a run killed
while writing one leaves a `.tmp-` directory or an unmarked prefix that is ignored and later pruned.
Multi-node runs with a local path need it on a shared filesystem; with s3:// each node stages locally.
Usable by every training stage: nothing here is specific to pretraining.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fmops.core import storage

PREFIX = "step-"
MARKER = "complete.json"
STATE = "trainer_state.json"
_NAME = re.compile(rf"^{PREFIX}(\d+)$")


def name(step: int) -> str:
    return f"{PREFIX}{step:08d}"


def complete_steps(root: str) -> list[int]:
    """Steps of the complete checkpoints under `root`, ascending."""
    steps = []
    for entry in storage.listdir(root):
        match = _NAME.match(entry)
        if match and storage.exists(storage.join(root, entry, MARKER)):
            steps.append(int(match.group(1)))
    return sorted(steps)


def latest(root: str) -> str | None:
    """URI of the newest complete checkpoint, or None."""
    steps = complete_steps(root)
    return storage.join(root, name(steps[-1])) if steps else None


def fetch(uri: str, workdir: Path) -> Path:
    """A local directory holding the checkpoint at `uri` (downloaded into `workdir` when remote)."""
    if not storage.is_remote(uri):
        return storage.local_path(uri)
    target = workdir / Path(uri.rstrip("/")).name
    if not (target / MARKER).exists():
        with storage.local_copy(uri) as path:
            shutil.copytree(path, target, dirs_exist_ok=True)
    return target


def read_state(path: Path) -> dict[str, Any]:
    return json.loads((path / STATE).read_text())


def save(
    accelerator: Any,
    root: str,
    step: int,
    state: dict[str, Any],
    add_files: Callable[[Path], None] | None = None,
    keep: int = 2,
) -> str:
    """Every rank calls this (sharded states need all of them); the main process publishes. Returns the URI."""
    remote = storage.is_remote(root)
    staging = Path(tempfile.mkdtemp(prefix="fmops-ckpt-")) if remote else storage.local_path(root)
    tmp = staging / f".tmp-{name(step)}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        (tmp / STATE).write_text(json.dumps(state) + "\n")
        if add_files:
            add_files(tmp)
        _publish(tmp, root, step, remote)
        _prune(root, keep)
    accelerator.wait_for_everyone()
    if remote:
        shutil.rmtree(staging, ignore_errors=True)
    return storage.join(root, name(step))


def _publish(tmp: Path, root: str, step: int, remote: bool) -> None:
    target = storage.join(root, name(step))
    marker = json.dumps({"step": step, "written_at": time.time()}) + "\n"
    if remote:
        storage.upload_dir(tmp, target)
        storage.atomic_write_text(storage.join(target, MARKER), marker)
        return
    (tmp / MARKER).write_text(marker)
    final = storage.local_path(target)
    shutil.rmtree(final, ignore_errors=True)  # an unmarked leftover of the same step
    os.replace(tmp, final)


def _prune(root: str, keep: int) -> None:
    """Drop all but the newest `keep` complete checkpoints, and leftovers of killed writes older than them."""
    steps = complete_steps(root)
    if not steps:
        return
    kept = set(steps[-keep:]) if keep > 0 else {steps[-1]}
    for entry in storage.listdir(root):
        match = re.match(rf"^(?:\.tmp-)?{PREFIX}(\d+)$", entry)
        if match and int(match.group(1)) not in kept and int(match.group(1)) <= steps[-1]:
            remove(storage.join(root, entry))


def remove(uri: str) -> None:
    if storage.is_remote(uri):
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(uri)
        if fs.exists(path):
            fs.rm(path, recursive=True)
    else:
        shutil.rmtree(storage.local_path(uri), ignore_errors=True)
