"""Every path the executor derives from a Workflow file (step and artifact folders, repository keys, volume
claims and subPaths, ConfigMap item paths, pod paths, `from` sources) stays inside the run directory: a part
such as `../..`, an absolute key or a symlink a step made that points out is refused with the reason, never
followed."""

from __future__ import annotations

import os
import re
from pathlib import Path

from fmops.core.errors import InputError

UNSAFE = re.compile(r"[^\w.()@:,=+-]")


def inside(root: Path, *parts: str, what: str = "path") -> Path:
    """`root` joined with `parts`, symlinks resolved; InputError when that leaves `root`."""
    base = root.resolve()
    target = base.joinpath(*(str(part) for part in parts)).resolve()
    if target != base and base not in target.parents:
        shown = "/".join(str(part) for part in parts)
        raise InputError(f"{what} {shown!r} leaves the run directory")
    return target


def folder_name(node_id: str) -> str:
    """A node id as nested folder names: each part of its `/` path with only safe characters, never `.` or
    `..` (a loop item may hold anything)."""
    parts = [UNSAFE.sub("_", part) for part in node_id.split("/")]
    return "/".join("_" if part in ("", ".", "..") else part for part in parts)


def links_leaving(tree: Path, root: Path) -> list[str]:
    """The symlinks under `tree` (or `tree` itself) that resolve outside `root`."""
    base = root.resolve()

    def leaves(path: Path) -> bool:
        target = path.resolve()
        return target != base and base not in target.parents

    found = [str(tree)] if tree.is_symlink() and leaves(tree) else []
    if tree.is_dir() and not tree.is_symlink():
        for folder, names, files in os.walk(tree):
            for name in [*names, *files]:
                path = Path(folder) / name
                if path.is_symlink() and leaves(path):
                    found.append(str(path))
    return found


def readable(path: Path, root: Path, what: str) -> Path:
    """`path`, which a step wrote, when neither it nor a symlink under it points outside `root`."""
    outside = links_leaving(path, root)
    if outside:
        raise InputError(f"{what}: {outside[0]} is a symlink that points outside the run directory")
    return path
