"""Every location is a URI: a local path, `file://...`, or `s3://...` (through fsspec/s3fs).

Large things travel as URIs; these helpers read, write (atomically) and hash them the same way wherever
they live. For an S3-compatible endpoint other than AWS (MinIO, moto in tests) set AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
from fsspec.core import url_to_fs

from fmops.core.errors import InputError, where


def is_remote(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


def local_path(uri: str) -> Path:
    """The filesystem path of a local URI (`file://` stripped)."""
    return Path(uri.removeprefix("file://"))


def join(uri: str, *parts: str) -> str:
    base = uri.rstrip("/")
    return "/".join([base, *(p.strip("/") for p in parts)])


def _fs(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    if is_remote(uri):
        return url_to_fs(uri, **options(uri))
    return fsspec.filesystem("file"), str(local_path(uri))


def options(uri: str) -> dict[str, str]:
    """The fsspec options for `uri` (for libraries that open URIs themselves, such as DCP's fsspec writer).

    The S3 endpoint as an explicit option: fsspec caches filesystems by their options, so one that was
    made for another endpoint (AWS_ENDPOINT_URL changed within the process) is never reused."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    return {"endpoint_url": endpoint} if endpoint and uri.startswith("s3://") else {}


def exists(uri: str) -> bool:
    fs, path = _fs(uri)
    return fs.exists(path)


def isdir(uri: str) -> bool:
    fs, path = _fs(uri)
    return fs.isdir(path)


def listdir(uri: str) -> list[str]:
    """Names (not paths) directly under a directory URI, sorted."""
    fs, path = _fs(uri)
    if not fs.isdir(path):
        return []
    return sorted(Path(entry.rstrip("/")).name for entry in fs.ls(path, detail=False))


def read_bytes(uri: str) -> bytes:
    fs, path = _fs(uri)
    with fs.open(path, "rb") as handle:
        return handle.read()


def read_text(uri: str) -> str:
    return read_bytes(uri).decode("utf-8")


def read_json(uri: str) -> Any:
    return json.loads(read_text(uri))


def read_json_record(uri: str, what: str, field: str, kind: type) -> dict[str, Any] | None:
    """The JSON object at `uri` (None when there is no file), whose `field` must hold a `kind`.

    For the small state files steps keep in storage (registry pointers, watermarks): a hand-edited or
    truncated one is bad input naming the file, not a traceback.
    """
    if not exists(uri):
        return None
    try:
        data = json.loads(read_text(uri))
    except json.JSONDecodeError as error:
        raise InputError(f"{uri}: {what} is not JSON ({error.msg})") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{uri}: {what} is not UTF-8 text (byte {error.start})") from None
    if not isinstance(data, dict) or not isinstance(data.get(field), kind):
        noun = {str: "string", list: "list", dict: "mapping"}.get(kind, kind.__name__)
        raise InputError(f"{where(uri, field=field)}: missing or not a {noun}")
    return data


def write_parameters(results_dir: str | Path, values: dict[str, str]) -> None:
    """One file per value in a local directory: Argo reads a step's output parameters from files."""
    directory = Path(results_dir)
    directory.mkdir(parents=True, exist_ok=True)
    for name, value in values.items():
        (directory / name).write_text(value, encoding="utf-8")


def atomic_write_bytes(uri: str, data: bytes) -> None:
    """Write so a reader sees the old content or the whole new content, never a part.

    Locally: a temporary file in the same directory, then rename. On S3 a PUT is already atomic.
    """
    fs, path = _fs(uri)
    if is_remote(uri):
        fs.pipe_file(path, data)
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(uri: str, text: str) -> None:
    atomic_write_bytes(uri, text.encode("utf-8"))


def write_json(uri: str, obj: Any) -> None:
    atomic_write_text(uri, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def remove(uri: str) -> None:
    """Delete the file or directory at `uri` (recursively); nothing there is fine."""
    fs, path = _fs(uri)
    if fs.exists(path):
        fs.rm(path, recursive=fs.isdir(path))


def sha256(uri: str) -> str:
    """sha256 of a file, or of a directory as the hash of its sorted (relative path, file hash) list."""
    fs, path = _fs(uri)
    if not fs.exists(path):
        raise InputError(f"{uri}: does not exist")
    if not fs.isdir(path):
        digest = hashlib.sha256()
        with fs.open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    listing = hashlib.sha256()
    root = path.rstrip("/")
    for file in sorted(fs.find(root)):
        relative = file[len(root) :].lstrip("/")
        listing.update(f"{relative}\0{sha256(_rejoin(uri, root, file))}\n".encode())
    return listing.hexdigest()


def fingerprint(uri: str) -> dict[str, Any]:
    """What identifies a file's content without trusting its name: {"size", "checksum"}.

    Locally the sha256 of the bytes. On S3 the object's ETag, which S3 computes on every write (the MD5 of a
    single-part upload; a multipart upload's ETag depends on its part size too, so the same bytes uploaded in
    other parts count as new content once): no download of a shard just to know whether it changed.
    """
    fs, path = _fs(uri)
    if not fs.exists(path) or fs.isdir(path):
        raise InputError(f"{uri}: not a file")
    info = fs.info(path)
    if is_remote(uri):
        etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
        if not etag:
            raise InputError(f"{uri}: the store reports no ETag for it")
        return {"size": int(info["size"]), "checksum": f"etag:{etag}"}
    return {"size": int(info["size"]), "checksum": f"sha256:{sha256(uri)}"}


def _rejoin(uri: str, root: str, file: str) -> str:
    """A found file's path back in the URI form of its root."""
    if not is_remote(uri):
        return file
    scheme = uri.split("://", 1)[0]
    return f"{scheme}://{file}"


@contextlib.contextmanager
def local_copy(uri: str) -> Iterator[Path]:
    """A local path holding the file or directory at `uri` (downloaded into a temp dir when remote)."""
    if not is_remote(uri):
        yield local_path(uri)
        return
    fs, path = _fs(uri)
    with tempfile.TemporaryDirectory(prefix="fmops-") as tmp:
        target = Path(tmp) / Path(path.rstrip("/")).name
        fs.get(path.rstrip("/"), str(target), recursive=fs.isdir(path))
        yield target


def upload_dir(local_dir: str | Path, uri: str) -> None:
    """Copy a local directory's contents to `uri` (no-op when it is that same directory).

    A top-level manifest.json is copied last, so the copy is complete before it says so.
    """
    source = Path(local_dir)
    if not is_remote(uri) and local_path(uri).resolve() == source.resolve():
        return
    files = sorted((p for p in source.rglob("*") if p.is_file()), key=lambda p: (p == source / "manifest.json", p))
    for file in files:
        relative = file.relative_to(source).as_posix()
        if is_remote(uri):
            fs, path = _fs(uri)
            fs.put_file(str(file), f"{path.rstrip('/')}/{relative}")
        else:
            target = local_path(uri) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)


def sizes(uri: str) -> dict[str, int]:
    """Name -> size in bytes of every file directly under a directory URI (one listing, also on S3)."""
    fs, path = _fs(uri)
    if not fs.isdir(path):
        return {}
    entries = fs.ls(path, detail=True)
    return {Path(e["name"].rstrip("/")).name: int(e["size"]) for e in entries if e.get("type") == "file"}


def read_range(uri: str, start: int, end: int) -> bytes:
    """Bytes [start, end) of a file: one ranged GET on S3, a seek and read locally."""
    fs, path = _fs(uri)
    return fs.cat_file(path, start=start, end=end)


@contextlib.contextmanager
def open_binary(uri: str) -> Iterator[Any]:
    """A binary file object for reading `uri` as a stream (fsspec reads S3 in blocks, never whole)."""
    fs, path = _fs(uri)
    with fs.open(path, "rb") as handle:
        yield handle
