"""The pretraining stage: typed config and inputs in, a trained model, metrics.json and manifest.json out."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmops.core import manifest, storage
from fmops.core.errors import InputError
from fmops.training import model as model_source
from fmops.training.config import PretrainConfig, PretrainInputs
from fmops.training.text_data import read_corpus

STAGE = "pretrain"


@dataclass(frozen=True)
class PretrainResult:
    """What one call did: `metrics` (metrics.json's content) on rank 0, None on the other ranks and when the
    output was already complete (`already_complete`)."""

    output: str
    metrics: dict[str, Any] | None
    already_complete: bool = False


def inputs(*, model: str, data: list[str], replay: list[str], config: PretrainConfig) -> PretrainInputs:
    """Every input checked (paths, every line) before torch is imported."""
    resolved = model_source.check(model)
    corpus = read_corpus(data, "--data")
    replayed = read_corpus(replay, "--replay") if any(part.strip() for part in replay) else None
    if config.replay_ratio > 0 and replayed is None:
        raise InputError(f"--replay-ratio {config.replay_ratio}: needs --replay")
    return PretrainInputs(model=resolved, data=corpus, replay=replayed)


def already_complete(output: str, config: PretrainConfig) -> bool:
    if not storage.exists(storage.join(output, manifest.MANIFEST)):
        return False
    if manifest.read(output).get("config") != config.model_dump():
        raise InputError(f"{output}: holds a complete run with a different config; choose another --output")
    return True


def pretrain(
    *, model: str, data: list[str], output: str, config: PretrainConfig, replay: list[str] | None = None,
    results_dir: str | None = None,
) -> PretrainResult:  # fmt: skip
    """Continue pretraining `model` on `data` (mixing in `replay`) into `output`; resumes from its checkpoints.

    Bad input raises InputError before torch is imported. The manifest is written last, by rank 0.
    """
    started = manifest.now()
    checked = inputs(model=model, data=data, replay=replay or [], config=config)
    if already_complete(output, config):
        return PretrainResult(output, None, already_complete=True)
    from fmops.training.pretrain import pretrain as train  # imports torch: only after the inputs are valid

    with tempfile.TemporaryDirectory(prefix="fmops-pretrain-") as workdir:
        metrics = train(checked, config, output, Path(workdir), results_dir or None)
    if metrics is None:  # not rank 0
        return PretrainResult(output, None)
    described = manifest.describe_inputs(
        {"data": checked.data.files, "replay": checked.replay.files if checked.replay else []}
    )
    model_input: dict[str, Any] = {"uri": model, "resolved": checked.model}
    if manifest.looks_like_path(checked.model):
        model_input["sha256"] = storage.sha256(checked.model)
    manifest.write(output, stage=STAGE, inputs={"model": model_input, **described}, config=config.model_dump(),
                   metrics=_scalars(metrics), started_at=started)  # fmt: skip
    return PretrainResult(output, metrics)


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if not isinstance(v, list | dict)}
