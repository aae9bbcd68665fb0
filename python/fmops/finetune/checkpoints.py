"""Resumable checkpoints of `fmops sft|dpo` under `<output>/checkpoints/`, each visible only once complete.

The Trainer's own checkpointing does the saving (model, optimizer, scheduler, RNG, trainer_state.json), but
it writes `checkpoint-N/` in place, so a pod killed mid-save would leave a half-written directory that
`resume_from_checkpoint` would pick. Here the Trainer writes into the staging directory
`checkpoints/.incomplete/`, and when a save has finished (`on_save`) the checkpoint is handed to
fmops.training.checkpoint_store, the mechanism pretraining uses too: published as `checkpoints/step-N/` with
its `complete.json` marker (renamed into place locally, uploaded to S3 with the marker last), the newest
save_total_limit kept. A rerun with the same output resumes from the newest complete checkpoint.
With several processes every rank saves its own part (its RNG state; its shards under FSDP): on s3://, where
each rank has its own staging directory, each rank uploads the files only it wrote; all wait until every rank
has saved, and then the main one publishes. The marker lists the sha256 and size of every file (each rank
hashes what it wrote), and a checkpoint is resumed from only once its files match that list (`resume_path`):
the Trainer loads its RNG, optimizer and scheduler files with `weights_only=True`, but the FSDP and DeepSpeed
state it can also load are pickles (fmops.training.checkpoint_digests says why the list is checked first).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from transformers import TrainerCallback

from fmops.core import storage
from fmops.core.errors import InputError
from fmops.training import checkpoint_digests, checkpoint_store
from fmops.training.checkpoint_digests import Digest

INCOMPLETE = ".incomplete"


def root(output: str) -> str:
    return storage.join(output, "checkpoints")


def resume_path(output: str, work: Path) -> str | None:
    """A local path of the newest complete checkpoint of `output` (downloaded into `work` from S3), or None.

    Its files match the digests its marker lists, or InputError names the first that does not: locally the
    ranks share the check of the one directory (every rank must call this); a download is checked whole by
    the process that downloaded it, so the bytes checked are the bytes the Trainer loads."""
    latest = checkpoint_store.latest(root(output))
    if latest is None:
        return None
    if not storage.is_remote(output):
        checkpoint_digests.verify(latest)
        return str(storage.local_path(latest))
    local = work / "checkpoints" / Path(latest).name
    shutil.rmtree(local, ignore_errors=True)
    with storage.local_copy(latest) as downloaded:
        shutil.copytree(downloaded, local)
    try:
        checkpoint_digests.verify(str(local), split=False)
    except InputError as error:  # name the checkpoint where it lies, not the download
        raise InputError(str(error).replace(str(local), latest)) from None
    return str(local)


def staged_digests(staged: Path, remote: bool) -> dict[str, Digest] | None:
    """The digests of a staged checkpoint's files for its marker. On s3:// each rank stages its own files in
    its own directory: each hashes them, and the main rank folds them together, its own last (it uploads
    last, so its copy of a file both wrote is the one stored). Locally every rank wrote into the one
    directory, which the main rank hashes when it publishes (None)."""
    if not remote:
        return None
    parts = checkpoint_digests.gather(checkpoint_digests.of_directory(str(staged)))
    files: dict[str, Digest] = {}
    for part in [*parts[1:], parts[0]]:
        files.update(part)
    return files


class PublishCheckpoints(TrainerCallback):
    """Publish each finished Trainer checkpoint from `.incomplete/` into `<output>/checkpoints/`; keep `keep`."""

    def __init__(self, output: str, keep: int) -> None:
        self.root, self.remote, self.keep = root(output), storage.is_remote(output), keep

    def on_save(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201 (the TrainerCallback signature)
        from accelerate import PartialState

        step = state.global_step
        staged = Path(args.output_dir) / f"checkpoint-{step}"
        files = staged_digests(staged, self.remote)  # a collective on s3://: before a rank removes its part
        if self.remote and not state.is_world_process_zero:
            checkpoint_store.upload_part(staged, self.root, step)  # this rank's own files, from its own staging
            shutil.rmtree(staged, ignore_errors=True)
        PartialState().wait_for_everyone()  # every rank's part is written (and uploaded) before it is published
        if not state.is_world_process_zero:
            return control
        checkpoint_store.publish_dir(staged, self.root, step, files)
        shutil.rmtree(staged, ignore_errors=True)  # uploaded (s3://); locally already moved away
        checkpoint_store.prune(self.root, self.keep)
        return control
