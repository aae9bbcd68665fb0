"""Check that a stage output is complete and copy its small results where Argo picks them up."""

from __future__ import annotations

from pathlib import Path

from fmops.core import manifest, storage
from fmops.core.errors import InputError

SMALL_RESULTS = ("metrics.json", "loss.png", "report.md", "chart.png")


def collect(*, output: str, results_dir: str | Path) -> dict[Path, str]:
    """Copy those of SMALL_RESULTS that `output` has into `results_dir`; returns each copy -> its source URI.

    An output without manifest.json did not finish: InputError, nothing copied.
    """
    if not storage.exists(storage.join(output, manifest.MANIFEST)):
        raise InputError(f"{output}: incomplete fmops output (no {manifest.MANIFEST})")
    results = Path(results_dir)
    results.mkdir(parents=True, exist_ok=True)
    copied: dict[Path, str] = {}
    for name in SMALL_RESULTS:
        source = storage.join(output, name)
        if storage.exists(source):
            (results / name).write_bytes(storage.read_bytes(source))
            copied[results / name] = source
    return copied
