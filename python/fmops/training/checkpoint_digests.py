"""Which files a checkpoint may hold, and the check that runs before any of them is loaded.

Some checkpoint files can only be read by unpickling them: torch.distributed.checkpoint's `sharded/.metadata`,
DeepSpeed's files, and whatever a trainer's library writes. Unpickling runs code, and every process that can
write the checkpoint prefix could plant such a file. So the main rank lists the sha256 and size of every file
of a checkpoint in its `complete.json` when it publishes it, and resuming first checks the files against that
list: a file not listed, a listed file missing, or one with other bytes refuses the checkpoint (InputError,
one line naming the file). The checkpoint is refused rather than skipped for an older one: a tampered or
corrupted checkpoint is something an operator must see, and training on from an older one would prune the
evidence away at the next save. Deleting the refused checkpoint resumes from the previous one.

The list is only as trustworthy as `complete.json` itself: a writer who also rewrites the marker can list
their own digests (see the manual's "Checkpoints and trust").

Hashing is shared among the ranks when a run has several: each hashes its share of the files and the
results are gathered (torch.distributed's object all-gather), so no rank reads the whole checkpoint.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from fmops.core import storage
from fmops.core.errors import InputError

MARKER = "complete.json"  # the completion marker that holds the list (checkpoint_store writes it)
FILES = "files"  # the marker's field: relative path -> {"sha256", "size"}
_BLOCK = 1 << 20

Digest = dict[str, Any]


def relative_files(uri: str) -> list[str]:
    """Every file under the directory `uri` as a sorted relative POSIX path, the marker left out."""
    if not storage.is_remote(uri):
        root = storage.local_path(uri)
        found = [path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()]
    else:
        from fsspec.core import url_to_fs

        fs, root = url_to_fs(uri, **storage.options(uri))
        root = root.rstrip("/")
        found = [file[len(root) :].lstrip("/") for file in fs.find(root)]
    return sorted(name for name in found if name != MARKER)


def of_bytes(data: bytes) -> Digest:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def of_file(uri: str) -> Digest:
    digest, size = hashlib.sha256(), 0
    with storage.open_binary(uri) as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
            size += len(block)
    return {"sha256": digest.hexdigest(), "size": size}


def of_directory(uri: str, names: list[str] | None = None) -> dict[str, Digest]:
    """The digests of `names` (default: every file) under the directory `uri`, hashed by this process."""
    return {name: of_file(storage.join(uri, name)) for name in (relative_files(uri) if names is None else names)}


def _rank_and_world() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather(part: Any) -> list[Any]:
    """Every rank's `part`, in rank order, on every rank (a collective when a process group runs)."""
    import torch.distributed as dist

    rank, world = _rank_and_world()
    if world == 1:
        return [part]
    parts: list[Any] = [None] * world
    dist.all_gather_object(parts, part)
    return parts


def shared(uri: str) -> dict[str, Digest]:
    """The digests of every file under `uri`, each rank hashing its share (every rank must call this)."""
    rank, world = _rank_and_world()
    names = relative_files(uri)
    merged: dict[str, Digest] = {}
    for part in gather(of_directory(uri, names[rank::world])):
        merged.update(part)
    return merged


def listed(uri: str) -> dict[str, Digest]:
    """The file list of the checkpoint at `uri`, from its marker."""
    marker = storage.join(uri, MARKER)
    try:
        files = storage.read_json(marker).get(FILES)
    except (OSError, ValueError, AttributeError):
        files = None
    if not isinstance(files, dict) or not all(_is_digest(entry) for entry in files.values()):
        raise InputError(
            f"{marker}: no valid list of the checkpoint's file digests (written before fmops listed them, or "
            f"edited); refusing to load {uri}: delete it to resume from the previous checkpoint"
        )
    return files


def _is_digest(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("sha256"), str) and isinstance(entry.get("size"), int)


def refusal(uri: str, name: str, problem: str) -> InputError:
    return InputError(
        f"{storage.join(uri, name)}: {problem}; refusing to load checkpoint {uri} (its files must match the "
        f"digests its {MARKER} lists): delete it to resume from the previous checkpoint"
    )


def problems(uri: str, expected: dict[str, Digest], found: dict[str, Digest]) -> list[tuple[str, str]]:
    """(file, what is wrong) for every difference between the listed and the found files, by file name."""
    wrong = []
    for name in sorted(set(expected) | set(found)):
        if name not in expected:
            wrong.append((name, f"not listed in {MARKER}"))
        elif name not in found:
            wrong.append((name, f"listed in {MARKER} but missing"))
        elif found[name] != expected[name]:
            wrong.append((name, f"differs from the sha256 and size {MARKER} lists"))
    return wrong


def verify(uri: str, *, split: bool = True) -> dict[str, Digest]:
    """Check every file of the checkpoint at `uri` against its marker's list before anything is loaded;
    returns the list. split: the ranks share the hashing (every rank must call this); otherwise this process
    hashes every file itself (a per-process copy)."""
    expected = listed(uri)
    found = shared(uri) if split else of_directory(uri)
    wrong = problems(uri, expected, found)
    if wrong:
        raise refusal(uri, *wrong[0])
    return expected


def check_bytes(uri: str, name: str, data: bytes, expected: dict[str, Digest]) -> bytes:
    """`data`, read from the checkpoint's file `name`, if it is what the list says (the bytes that get loaded
    are the bytes checked, whatever changed in storage since the checkpoint was verified)."""
    if expected.get(name) != of_bytes(data):
        raise refusal(uri, name, f"differs from the sha256 and size {MARKER} lists")
    return data


def check_local_file(uri: str, name: str, path: Path, expected: dict[str, Digest]) -> None:
    """The same check for a local copy of the checkpoint's file `name`, just before a library loads it."""
    if expected.get(name) != of_file(str(path)):
        raise refusal(uri, name, f"differs from the sha256 and size {MARKER} lists")
