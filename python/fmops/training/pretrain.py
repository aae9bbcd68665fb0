"""The pretraining stage: typed config and inputs in, a trained model, metrics.json and manifest.json out."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmops.core import manifest, storage
from fmops.core.errors import InputError
from fmops.training import model as model_source
from fmops.training import token_shards
from fmops.training.config import PretrainConfig, PretrainInputs
from fmops.training.text_data import Corpus, read_corpus
from fmops.training.token_shards import TokenDataset

STAGE = "pretrain"


@dataclass(frozen=True)
class PretrainResult:
    """What one call did: `metrics` (metrics.json's content) on rank 0, None on the other ranks and when the
    output was already complete (`already_complete`)."""

    output: str
    metrics: dict[str, Any] | None
    already_complete: bool = False


def inputs(*, model: str, data: list[str], replay: list[str], config: PretrainConfig) -> PretrainInputs:
    """Every input checked (paths, every line, optional kernels installed) before torch is imported."""
    config.check_installed()
    resolved = model_source.check(model)
    corpus = read_data(data, "--data")
    replayed = read_data(replay, "--replay") if any(part.strip() for part in replay) else None
    if config.replay_ratio > 0 and replayed is None:
        raise InputError(f"--replay-ratio {config.replay_ratio}: needs --replay")
    check_tokenizer(resolved, corpus, replayed)
    return PretrainInputs(model=resolved, data=corpus, replay=replayed)


def read_data(values: list[str], role: str) -> Corpus | TokenDataset:
    """A prepared dataset (a directory with index.json from `fmops tokenize`, given alone), or raw text files."""
    uris = [part.strip() for value in values for part in value.split(",") if part.strip()]
    prepared = [uri for uri in uris if token_shards.is_prepared(uri)]
    if not prepared:
        return read_corpus(values, role)
    if len(uris) > 1:
        raise InputError(f"{role} {prepared[0]}: a prepared dataset (token shards) must be the only {role} value")
    dataset = token_shards.open_dataset(prepared[0])
    dataset.document_starts()  # read whole here, so a changed documents.bin is refused before torch
    return dataset


def check_tokenizer(model: str, *sources: Corpus | TokenDataset | None) -> None:
    """Token shards were made by this model's tokenizer (tiny: by the tokenizer saved with --data's shards)."""
    datasets = [source for source in sources if isinstance(source, TokenDataset)]
    if not datasets:
        return
    if model == model_source.TINY:
        first = sources[0]
        if not isinstance(first, TokenDataset) or first.index["tokenizer"].get("dir") is None:
            raise InputError(
                f"{datasets[0].uri}: --model tiny trains on token shards only when --data holds shards "
                f"made with fmops tokenize --model tiny (they carry its tokenizer)"
            )
        expected, owner = first.tokenizer_sha256, f"the tokenizer saved with {first.uri}"
    elif manifest.looks_like_path(model):
        expected, owner = token_shards.model_tokenizer_sha256(model), f"{model}'s tokenizer"
    else:  # a hub id: checked in training, once transformers has fetched its tokenizer
        return
    for dataset in datasets:
        if dataset.tokenizer_sha256 != expected:
            found = dataset.tokenizer_sha256[:12]
            raise InputError(
                f"{dataset.uri}: tokenized with another tokenizer (sha256 {found}) than {owner} "
                f"({expected[:12]}); run fmops tokenize with this model"
            )


def describe_data(source: Corpus | TokenDataset | None) -> list[dict[str, Any]]:
    """Manifest entries: every raw file with its sha256; token shards by their index.json, which holds every
    shard's sha256 (hashing the shards again would read the whole corpus)."""
    if source is None:
        return []
    if isinstance(source, TokenDataset):
        index = storage.join(source.uri, token_shards.INDEX)
        return [{"uri": source.uri, "index_sha256": storage.sha256(index), "tokens": source.num_tokens}]
    return manifest.describe_inputs({"files": source.files})["files"]


def already_complete(output: str, config: PretrainConfig) -> bool:
    if not storage.exists(storage.join(output, manifest.MANIFEST)):
        return False
    if manifest.read(output).get("config") != config.model_dump():
        raise InputError(f"{output}: holds a complete run with a different config; choose another --output")
    return True


def pretrain(
    *,
    model: str,
    data: list[str],
    output: str,
    config: PretrainConfig,
    replay: list[str] | None = None,
    results_dir: str | None = None,
) -> PretrainResult:
    """Continue pretraining `model` on `data` (mixing in `replay`) into `output`; resumes from its checkpoints.

    Bad input raises InputError before torch is imported. The manifest is written last, by rank 0.
    """
    started = manifest.now()
    checked = inputs(model=model, data=data, replay=replay or [], config=config)
    if already_complete(output, config):
        return PretrainResult(output, None, already_complete=True)
    from fmops.training.trainer import train  # imports torch: only after the inputs are valid

    with tempfile.TemporaryDirectory(prefix="fmops-pretrain-") as workdir:
        metrics = train(checked, config, output, Path(workdir), results_dir or None)
    if metrics is None:  # not rank 0
        return PretrainResult(output, None)
    described = {"data": describe_data(checked.data), "replay": describe_data(checked.replay)}
    model_input: dict[str, Any] = {"uri": model, "resolved": checked.model}
    if manifest.looks_like_path(checked.model):
        model_input["sha256"] = storage.sha256(checked.model)
    manifest.write(
        output,
        stage=STAGE,
        inputs={"model": model_input, **described},
        config=config.model_dump(),
        metrics=_scalars(metrics),
        started_at=started,
    )
    return PretrainResult(output, metrics)


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if not isinstance(v, list | dict)}
