"""The stage output directory: where training works, and how it is finished (metrics, results, manifest last).

A local output is worked in place (the model lands at its root, checkpoints under checkpoints/). An s3://
output is worked in a local temporary directory and uploaded: checkpoints as they complete, the model at
the end. Starting a run removes an old manifest.json first, so a rerun is never "complete" half-way.
With several processes only the main one removes and finishes (uploads, metrics, manifest), and only once
every rank is done: the runner calls `finish` after a barrier, on the main process.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fmops.core import manifest, storage
from fmops.finetune import checkpoints


@contextlib.contextmanager
def workspace(output: str, *, main: bool = True) -> Iterator[Path]:
    """A local directory standing for `output` while the stage runs (the main process removes an old manifest)."""
    if main:
        storage.remove(storage.join(output, manifest.MANIFEST))
    if not storage.is_remote(output):
        path = storage.local_path(output)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="fmops-finetune-") as tmp:
        yield Path(tmp)


def finish(
    output: str,
    work: Path,
    *,
    stage: str,
    inputs: dict[str, Any],
    config: dict[str, Any],
    metrics: dict[str, Any],
    started_at: str,
    results_dir: str,
) -> None:
    """Upload the model (remote output), write metrics.json (also into results_dir), then manifest.json."""
    if storage.is_remote(output):
        shutil.rmtree(work / "checkpoints", ignore_errors=True)  # already uploaded as each completed
        storage.upload_dir(work, output)
    else:
        shutil.rmtree(work / "checkpoints" / checkpoints.INCOMPLETE, ignore_errors=True)
    manifest.write_metrics(output, metrics, results_dir)
    manifest.write(output, stage=stage, inputs=inputs, config=config, metrics=metrics, started_at=started_at)
    print(f"{stage}: model written to {output}", file=sys.stderr)
    print(output)
