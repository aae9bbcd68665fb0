"""Durable training checkpoints of the pretraining loop: what each rank writes, and how it is read back.

Every rank writes its own part straight to the checkpoint's staging URI (checkpoint_store.py owns the layout,
the completion marker, publishing and pruning), whatever the strategy: model and optimizer go through
torch.distributed.checkpoint (DCP) into `sharded/` (its fsspec writer on s3://), so under FSDP2 each rank
writes the shards it holds and under DDP the replicated tensors are spread over the ranks (DCP's planner
deduplicates them); each rank also writes `rank-N.pt` (its RNG states and the LR scheduler). The main process
adds `trainer_state.json` (state.TrainState: step, metric history; the data position is the step, see
sampling.py) and the caller's files (the tokenizer), waits for every rank, and then publishes.
Resuming reads the checkpoint where it lies: DCP reads on each rank only the tensors that rank holds (ranged
reads on s3://), each rank its own `rank-N.pt`; only the small files are copied (`fetch_files`).
Nothing is read back before the checkpoint's files match the digests its marker lists (`verify`,
checkpoint_digests.py): DCP's `.metadata` and DeepSpeed's files are pickles, and unpickling runs code.
`rank-N.pt` holds tensors and plain values only and is loaded with `weights_only=True`, from the bytes checked.
Usable by every training stage: nothing here is specific to pretraining.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fmops.core import storage
from fmops.training import checkpoint_digests, checkpoint_store
from fmops.training.checkpoint_digests import Digest
from fmops.training.state import TrainState

STATE = "trainer_state.json"
SHARDED = "sharded"  # the DCP directory: .metadata and one __<rank>_<n>.distcp file per writing rank
DEEPSPEED = "deepspeed"  # instead of SHARDED under ZeRO-3: DeepSpeed's own per-rank checkpoint files


_VERIFIED: dict[str, dict[str, Digest]] = {}  # checkpoint URI -> its file list, once checked in this process


def rank_file(rank: int) -> str:
    return f"rank-{rank}.pt"


def fetch_files(uri: str, workdir: Path) -> Path:
    """A local directory with the checkpoint's small files (state, config, tokenizer): not the tensors, not
    other ranks' files. Local checkpoints are used where they are."""
    if not storage.is_remote(uri):
        return storage.local_path(uri)
    target = workdir / Path(uri.rstrip("/")).name
    for entry in storage.listdir(uri):
        if entry in (SHARDED, DEEPSPEED) or re.fullmatch(r"rank-\d+\.pt", entry):
            continue
        with storage.local_copy(storage.join(uri, entry)) as path:
            if path.is_dir():
                shutil.copytree(path, target / entry, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target / entry)
    return target


def verify(uri: str) -> dict[str, Digest]:
    """Check the checkpoint's files against its marker's digests (once per process; every rank must call it,
    they share the hashing); returns the list. InputError naming the file when one differs."""
    if uri not in _VERIFIED:
        _VERIFIED[uri] = checkpoint_digests.verify(uri)
    return _VERIFIED[uri]


def read_state(uri: str) -> TrainState:
    return TrainState.from_dict(storage.read_json(storage.join(str(uri), STATE)))


class _Training:
    """Model and optimizer as DCP's Stateful: state dicts in the form DCP shards (DTensor under FSDP2)."""

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.model, self.optimizer = model, getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper

    def state_dict(self) -> dict[str, Any]:
        from torch.distributed.checkpoint.state_dict import get_state_dict

        model, optimizer = get_state_dict(self.model, self.optimizer)
        return {"model": model, "optimizer": optimizer}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        from torch.distributed.checkpoint.state_dict import set_state_dict

        set_state_dict(self.model, self.optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])


def _storage(uri: str, write: bool) -> Any:
    """DCP's writer/reader for a URI: the fsspec one on s3:// (with the endpoint storage uses), else the files one."""
    import torch.distributed.checkpoint as dcp

    if storage.is_remote(uri):
        from torch.distributed.checkpoint._fsspec_filesystem import FsspecReader, FsspecWriter

        # no fsync: an object store has nothing to sync, and the writer would fall back to a whole-disk sync
        options = storage.options(uri)
        return FsspecWriter(uri, sync_files=False, **options) if write else FsspecReader(uri, **options)
    path = str(storage.local_path(uri))
    return dcp.FileSystemWriter(path) if write else dcp.FileSystemReader(path)


@contextlib.contextmanager
def _single_process_is_fine() -> Iterator[None]:
    """Without a process group DCP warns on every call that it assumes one process: that is what is meant."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def _rank_state(scheduler: Any) -> dict[str, Any]:
    """This rank's RNG states and LR scheduler as tensors and plain values: what `weights_only=True` loads
    (numpy's key array becomes a tensor; python's state is a tuple of ints already)."""
    import numpy as np
    import torch

    generator, key, position, has_gauss, cached = np.random.get_state()
    numpy_state = {"generator": generator, "key": torch.from_numpy(key.astype(np.int64)), "position": position}
    numpy_state.update(has_gauss=has_gauss, cached_gaussian=cached)
    rng = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return {"rng": rng, "scheduler": scheduler.state_dict()}


def _restore_rank_state(saved: dict[str, Any], scheduler: Any, rng: bool) -> None:
    import numpy as np
    import torch

    scheduler.load_state_dict(saved["scheduler"])
    if not rng:
        return
    version, internal, gauss = saved["rng"]["python"]
    random.setstate((version, tuple(internal), gauss))
    state = saved["rng"]["numpy"]
    key = state["key"].numpy().astype(np.uint32)
    np.random.set_state((state["generator"], key, state["position"], state["has_gauss"], state["cached_gaussian"]))
    torch.set_rng_state(saved["rng"]["torch"])
    if "cuda" in saved["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["rng"]["cuda"])


def _load_rank_state(uri: str, name: str, listed: dict[str, Digest]) -> dict[str, Any]:
    """A rank file's content: only the bytes the list vouches for, unpickled to tensors and plain values only."""
    import pickle

    import torch

    data = checkpoint_digests.check_bytes(uri, name, storage.read_bytes(storage.join(uri, name)), listed)
    try:
        return torch.load(io.BytesIO(data), weights_only=True)
    except pickle.UnpicklingError as error:
        problem = str(error).strip().splitlines()[-1] if str(error).strip() else "not tensors and plain values"
        raise checkpoint_digests.refusal(uri, name, f"holds more than tensors and plain values ({problem})") from None


def save(
    accelerator: Any,
    root: str,
    step: int,
    state: TrainState,
    training: tuple[Any, Any, Any],
    add_files: Callable[[Path], None] | None = None,
    keep: int = 2,
) -> str:
    """Every rank calls this with its (model, optimizer, scheduler); returns the checkpoint's URI.

    Each rank writes its own part; the main process writes the marker once all have finished.
    """
    import torch
    import torch.distributed.checkpoint as dcp

    model, optimizer, scheduler = training
    written = checkpoint_store.staging(root, step)
    if accelerator.is_main_process:
        storage.remove(written)  # an unmarked leftover of this step from a killed run
    accelerator.wait_for_everyone()
    if _deepspeed(accelerator):
        _save_deepspeed(model, written)
    else:
        writer = _storage(storage.join(written, SHARDED), write=True)
        with _single_process_is_fine():
            dcp.save({"training": _Training(model, optimizer)}, storage_writer=writer)
    buffer = io.BytesIO()
    torch.save(_rank_state(scheduler), buffer)
    storage.atomic_write_bytes(storage.join(written, rank_file(accelerator.process_index)), buffer.getvalue())
    if accelerator.is_main_process:
        _write_small_files(written, state, add_files)
    accelerator.wait_for_everyone()  # every rank's part is in storage
    files = checkpoint_digests.shared(written)  # every rank hashes its share; the marker lists them all
    if accelerator.is_main_process:
        checkpoint_store.publish(written, root, step, files)
        checkpoint_store.prune(root, keep)
    accelerator.wait_for_everyone()
    published = storage.join(root, checkpoint_store.name(step))
    _VERIFIED.pop(published, None)  # a checkpoint of this step checked earlier in this process is gone
    return published


def load(accelerator: Any, uri: str, training: tuple[Any, Any, Any]) -> TrainState:
    """Restore (model, optimizer, scheduler) and this rank's RNG from the checkpoint at `uri`; returns its
    trainer state. Each rank reads only its own tensors and its own rank file."""
    import torch.distributed.checkpoint as dcp

    model, optimizer, scheduler = training
    listed = verify(uri)  # before any of its files is unpickled
    if _deepspeed(accelerator):
        _load_deepspeed(model, uri, accelerator.process_index, listed)
    else:
        reader = _storage(storage.join(uri, SHARDED), write=False)
        with _single_process_is_fine():
            dcp.load({"training": _Training(model, optimizer)}, storage_reader=reader)
    own = rank_file(accelerator.process_index)
    mine = own in listed  # not when resuming on more ranks than wrote: the data position is the step anyway
    saved = _load_rank_state(uri, own if mine else rank_file(0), listed)
    _restore_rank_state(saved, scheduler, rng=mine)
    return read_state(uri)


def _deepspeed(accelerator: Any) -> bool:
    from accelerate.utils import DistributedType

    return accelerator.distributed_type == DistributedType.DEEPSPEED


# ZeRO-3 keeps parameters and optimizer state in DeepSpeed's own flat partitions, which DCP's state dicts do not
# see; DeepSpeed's engine checkpoint writes one file per rank (its partition) and one shared model-states file.
# Each rank stages what it wrote in a directory of its own and uploads it; on resume it downloads only the
# shared files and its own partition. Not exercised by the CPU tests (DeepSpeed needs an accelerator).
def _save_deepspeed(engine: Any, written: str) -> None:
    with tempfile.TemporaryDirectory(prefix="fmops-zero-") as staging:
        engine.save_checkpoint(staging, tag=DEEPSPEED)
        storage.upload_dir(staging, written)


def _load_deepspeed(engine: Any, uri: str, rank: int, listed: dict[str, Digest]) -> None:
    """DeepSpeed unpickles its files (torch.load without weights_only): each local copy is checked against
    the list just before, so what it loads is what the main rank listed."""
    with tempfile.TemporaryDirectory(prefix="fmops-zero-") as staging:
        for entry in storage.listdir(storage.join(uri, DEEPSPEED)):
            owner = re.search(r"zero_pp_rank_(\d+)_", entry)
            if owner and int(owner.group(1)) != rank:
                continue  # another rank's partition
            with storage.local_copy(storage.join(uri, DEEPSPEED, entry)) as path:
                shutil.copy(path, Path(staging) / entry)
            checkpoint_digests.check_local_file(uri, f"{DEEPSPEED}/{entry}", Path(staging) / entry, listed)
        engine.load_checkpoint(staging, tag=DEEPSPEED)


def _write_small_files(written: str, state: TrainState, add_files: Callable[[Path], None] | None) -> None:
    if not storage.is_remote(written):
        directory = storage.local_path(written)
        (directory / STATE).write_text(json.dumps(state.as_dict()) + "\n")
        if add_files:
            add_files(directory)
        return
    with tempfile.TemporaryDirectory(prefix="fmops-ckpt-") as tmp:
        (Path(tmp) / STATE).write_text(json.dumps(state.as_dict()) + "\n")
        if add_files:
            add_files(Path(tmp))
        storage.upload_dir(tmp, written)
