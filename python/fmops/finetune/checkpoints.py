"""Resumable checkpoints under `<output>/checkpoints/`, each visible only once complete.

The Trainer's own checkpointing does the saving (model, optimizer, scheduler, RNG, trainer_state.json), but
it writes `checkpoint-N/` in place, so a pod killed mid-save leaves a half-written directory that
`resume_from_checkpoint` would pick. Here the Trainer writes into `checkpoints/.incomplete/`, and when a save
has finished (`on_save`) the directory is published: renamed into `checkpoints/` locally (atomic), or
uploaded to S3 with `trainer_state.json` last, the file whose presence marks an S3 checkpoint complete.
A rerun with the same output resumes from the newest complete checkpoint.
With several processes every rank saves its own part (its RNG state; its shards under FSDP): all of them wait
until every rank has saved, each rank uploads the files only it wrote (s3://, where each has its own staging
directory), and then the main one publishes and writes the marker.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from transformers import TrainerCallback

from fmops.core import storage

INCOMPLETE = ".incomplete"
STATE = "trainer_state.json"
_STEP = re.compile(r"^checkpoint-(\d+)$")


def complete_steps(checkpoints_uri: str) -> list[int]:
    """Steps of the complete checkpoints under `checkpoints_uri`, oldest first."""
    steps = []
    for name in storage.listdir(checkpoints_uri):
        match = _STEP.match(name)
        if match and storage.exists(storage.join(checkpoints_uri, name, STATE)):
            steps.append(int(match.group(1)))
    return sorted(steps)


def resume_path(output: str, work: Path) -> str | None:
    """A local path of the newest complete checkpoint of `output` (downloaded into `work` from S3), or None."""
    remote = storage.join(output, "checkpoints")
    steps = complete_steps(remote)
    if not steps:
        return None
    name = f"checkpoint-{steps[-1]}"
    local = work / "checkpoints" / name
    if storage.is_remote(output):
        shutil.rmtree(local, ignore_errors=True)
        with storage.local_copy(storage.join(remote, name)) as downloaded:
            shutil.copytree(downloaded, local)
    return str(local)


class PublishCheckpoints(TrainerCallback):
    """Move each finished Trainer checkpoint out of `.incomplete/` into `<output>/checkpoints/`; keep `keep`."""

    def __init__(self, output: str, work: Path, keep: int) -> None:
        self.remote = storage.join(output, "checkpoints") if storage.is_remote(output) else None
        self.published = work / "checkpoints"
        self.keep = keep

    def on_save(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201 (the TrainerCallback signature)
        from accelerate import PartialState

        staged = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if self.remote and not state.is_world_process_zero:
            self._upload(staged, marker=False)  # this rank's own files, from its own staging directory
            shutil.rmtree(staged, ignore_errors=True)
        PartialState().wait_for_everyone()  # every rank's part is written (and uploaded) before it is published
        if not state.is_world_process_zero:
            return control
        target = self.published / staged.name
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staged, target)
        if self.remote:
            self._upload(target)
        self._prune()
        return control

    def _upload(self, local: Path, marker: bool = True) -> None:
        files = sorted(p for p in local.rglob("*") if p.is_file() and (marker or p.name != STATE))
        files.sort(key=lambda p: p.name == STATE)  # the completion marker goes last
        for file in files:
            storage.atomic_write_bytes(storage.join(self.remote, local.name, file.relative_to(local).as_posix()),
                                       file.read_bytes())  # fmt: skip

    def _prune(self) -> None:
        for step in complete_steps(str(self.published))[: -self.keep]:
            shutil.rmtree(self.published / f"checkpoint-{step}")
            if self.remote:
                storage.remove(storage.join(self.remote, f"checkpoint-{step}"))
