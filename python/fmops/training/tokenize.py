"""The tokenize stage: text files in, a prepared dataset (token shards + index.json) and manifest.json out."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmops.core import manifest, storage
from fmops.core.errors import InputError
from fmops.training import model as model_source
from fmops.training import token_shards
from fmops.training.config import TokenizeConfig  # the stage config lives in config.py; imported from here too
from fmops.training.text_data import expand, iter_documents

STAGE = "tokenize"


@dataclass(frozen=True)
class TokenizeResult:
    """`metrics` (metrics.json, also in the manifest) when this call tokenized; None when the output was
    already complete."""

    output: str
    metrics: dict[str, Any] | None
    already_complete: bool = False


def tokenize(*, model: str, data: list[str], output: str, config: TokenizeConfig) -> TokenizeResult:
    """Tokenize every document of `data` with `model`'s tokenizer into token shards under `output`.

    Every line is validated (one streaming pass) before transformers is imported; the tokens then stream
    through in batches, so memory holds one batch and one shard, whatever the corpus size. On an output that
    is already complete, every shard is read whole and checked against its sha256 instead.
    """
    started = manifest.now()
    files = expand(data)
    if not files:
        raise InputError("--data: no path given")
    resolved = model_source.check(model)
    documents = sum(1 for uri in files for _ in iter_documents(uri))
    if storage.exists(storage.join(output, manifest.MANIFEST)):
        if manifest.read(output).get("config") != config.model_dump():
            raise InputError(f"{output}: holds a complete run with a different config; choose another --output")
        token_shards.open_dataset(output).verify()  # a retried step trusts its output only after a full read
        return TokenizeResult(output, None, already_complete=True)
    tokenizer, identity = _tokenizer(resolved, files, config, output)
    kept = token_shards.TOKENIZER_DIR if resolved == model_source.TINY else None
    writer = token_shards.ShardWriter(
        output, vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id, shard_tokens=config.shard_tokens
    )
    clock = time.perf_counter()
    for batch in token_shards.batches(_documents(files), config.batch_size):
        writer.add(token_shards.encode(tokenizer.backend_tokenizer, batch))
    seconds = time.perf_counter() - clock
    index = writer.finish(tokenizer={"sha256": identity, "model": model, "dir": kept}, sources=files)
    metrics = {
        "documents": documents,
        "tokens": index["tokens"],
        "shards": len(index["shards"]),
        "dtype": index["dtype"],
        "unigram_entropy": index["unigram_entropy"],
        "seconds": seconds,
        "tokens_per_s": index["tokens"] / seconds if seconds else None,
    }
    manifest.write_metrics(output, metrics)
    model_input: dict[str, Any] = {"uri": model, "resolved": resolved, "tokenizer_sha256": identity}
    manifest.write(
        output,
        stage=STAGE,
        inputs={"model": model_input, **manifest.describe_inputs({"data": files})},
        config=config.model_dump(),
        metrics=metrics,
        started_at=started,
    )
    return TokenizeResult(output, metrics)


def _documents(files: list[str]) -> Iterator[str]:
    for uri in files:
        yield from iter_documents(uri)


def _tokenizer(model: str, files: list[str], config: TokenizeConfig, output: str) -> tuple[Any, str]:
    """The model's tokenizer and its identity; `tiny` has none yet: it is trained here on the corpus's first
    tokenizer_train_bytes and saved in the dataset (tokenizer/), where `fmops pretrain --model tiny` finds it."""
    if model != model_source.TINY:
        return token_shards.load_tokenizer(model)
    tokenizer = model_source.tiny_tokenizer(_prefix(_documents(files), config.tokenizer_train_bytes), config.vocab_size)
    with tempfile.TemporaryDirectory(prefix="fmops-tokenizer-") as tmp:
        tokenizer.save_pretrained(tmp)
        identity = token_shards.tokenizer_sha256((Path(tmp) / token_shards.TOKENIZER_FILE).read_bytes())
        storage.upload_dir(tmp, storage.join(output, token_shards.TOKENIZER_DIR))
    return tokenizer, identity


def _prefix(documents: Iterator[str], limit: int) -> Iterator[str]:
    seen = 0
    for document in documents:
        yield document
        seen += len(document)
        if seen >= limit:
            return
