"""Where complete checkpoints live and how they become visible: one mechanism for every trainer.

    <root>/step-NNNNNNNN/            a checkpoint (whatever files its trainer writes)
    <root>/step-NNNNNNNN/complete.json   the completion marker, written last: only a marked checkpoint exists;
                                         it lists the sha256 and size of every other file (checkpoint_digests.py)

`fmops pretrain` (checkpoint.py) writes its parts straight into `staging(root, step)`; `fmops sft|dpo`
(fmops.finetune.checkpoints) let the Hugging Face Trainer write a local `checkpoint-N/` and hand it over
(`publish_dir`). Either way `publish` makes it visible and `prune` keeps the newest `keep`.

Local root: the checkpoint is written under `.tmp-step-N/` (or any local directory on the same filesystem),
the marker is written into it, and it is renamed into place (atomic on one filesystem; with several nodes
the root must be a shared filesystem). `s3://`: nothing is atomic but one PUT, so the files are written in
place and the marker last; a reader never takes a prefix without its marker. A write killed half-way leaves
a `.tmp-` directory or an unmarked prefix: `latest()` ignores it and `prune` deletes it once a newer
checkpoint is complete.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from fmops.core import storage
from fmops.training import checkpoint_digests
from fmops.training.checkpoint_digests import Digest

PREFIX = "step-"
MARKER = checkpoint_digests.MARKER
STAGING = ".tmp-"
_NAME = re.compile(rf"^{PREFIX}(\d+)$")
_ANY = re.compile(rf"^(?:{re.escape(STAGING)})?{PREFIX}(\d+)$")  # complete, unmarked, or staged


def name(step: int) -> str:
    return f"{PREFIX}{step:08d}"


def complete_steps(root: str) -> list[int]:
    """Steps of the complete (marked) checkpoints under `root`, ascending."""
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


def staging(root: str, step: int) -> str:
    """Where step's checkpoint is written before `publish`: its final prefix on s3://, `.tmp-` beside it locally."""
    return storage.join(root, name(step) if storage.is_remote(root) else STAGING + name(step))


def publish(written: str, root: str, step: int, files: dict[str, Digest] | None = None) -> str:
    """Make a fully written checkpoint visible: the marker, and locally the rename into place; returns its URI.

    `written` is `staging(root, step)`, or for a local root any local directory on the root's filesystem.
    `files`: the digests of every file written (the marker lists them); None: hashed here, by this process."""
    if files is None:
        files = checkpoint_digests.of_directory(written)
    marker = json.dumps({"step": step, "written_at": time.time(), checkpoint_digests.FILES: files}) + "\n"
    storage.atomic_write_text(storage.join(written, MARKER), marker)
    final = storage.join(root, name(step))
    if not storage.is_remote(root):
        shutil.rmtree(storage.local_path(final), ignore_errors=True)  # an unmarked leftover of the same step
        os.replace(storage.local_path(written), storage.local_path(final))
    return final


def upload_part(local: Path, root: str, step: int) -> None:
    """Copy one process's files of step's checkpoint into its staging place, without the marker (s3://)."""
    storage.upload_dir(local, staging(root, step))


def publish_dir(local: Path, root: str, step: int, files: dict[str, Digest] | None = None) -> str:
    """Publish a checkpoint a trainer wrote into the local directory `local`: moved into place under a local
    root, uploaded (marker last) to an s3:// one; returns its URI. `files` as for `publish` (None: the
    digests of `local`, hashed before the upload)."""
    if files is None:
        files = checkpoint_digests.of_directory(str(local))
    if storage.is_remote(root):
        upload_part(local, root, step)
        return publish(staging(root, step), root, step, files)
    return publish(str(local), root, step, files)


def prunable(entries: list[str], complete: list[int], keep: int) -> list[str]:
    """Which entries of a checkpoints directory to delete: complete checkpoints beyond the newest `keep`, and
    leftovers of killed writes (`.tmp-` or unmarked) older than the newest complete one."""
    if not complete:
        return []
    kept = set(complete[-max(keep, 1) :])
    drop = []
    for entry in entries:
        match = _ANY.match(entry)
        if match and int(match.group(1)) not in kept and int(match.group(1)) <= complete[-1]:
            drop.append(entry)
    return drop


def prune(root: str, keep: int) -> None:
    """Delete what `prunable` names under `root`."""
    for entry in prunable(storage.listdir(root), complete_steps(root), keep):
        storage.remove(storage.join(root, entry))
