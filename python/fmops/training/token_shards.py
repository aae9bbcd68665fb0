"""Token shards: a corpus tokenized once (`fmops tokenize`) into fixed-size binary files that pretraining reads
block by block (pread locally, ranged reads on s3://), so no rank ever holds the corpus.

A prepared dataset is a directory (any URI):

    tokens-00000.bin ...  token ids, raw little-endian uint16 (vocabulary below 65536) or uint32, `shard_tokens`
                          per file (the last one shorter); every document is followed by EOS, documents run on
                          across shard ends
    documents.bin         uint64: the token offset of every document's first token (the document boundaries)
    tokenizer/            --model tiny only: the tokenizer the tokens came from (there is no model to hold it)
    index.json            written after the files it lists: format, dtype, tokenizer identity, totals, and per
                          file its name, bytes and sha256

Integrity: every open checks each listed file exists with the byte length the index gives (one listing);
every read of a whole file checks its sha256; a ranged read checks it got the length it asked for. Each
problem is an InputError naming the file. The tokenizer's identity is the sha256 of its tokenizer.json with
the run-time settings (truncation, padding) left out, so a tokenizer saved again by save_pretrained keeps it.
numpy only (no torch), so the stages validate a dataset before importing torch.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from fmops.core import storage
from fmops.core.errors import InputError, where

INDEX = "index.json"
FORMAT = "fmops-token-shards"
VERSION = 1
DOCUMENTS = "documents.bin"
TOKENIZER_DIR = "tokenizer"
TOKENIZER_FILE = "tokenizer.json"
RUNTIME_SETTINGS = ("truncation", "padding")  # tokenizer.json keys that change no token id
WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack")  # not fetched for a tokenizer


def dtype_for(vocab_size: int) -> np.dtype:
    """The smallest unsigned dtype that holds every token id."""
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


def tokenizer_sha256(tokenizer_json: bytes) -> str:
    """Identity of a tokenizer: sha256 of its tokenizer.json, canonical, without the run-time settings."""
    data = json.loads(tokenizer_json)
    for key in RUNTIME_SETTINGS:
        data.pop(key, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def model_tokenizer_sha256(model_dir: str) -> str:
    """The identity of the tokenizer in a model directory (a path or URI); InputError without tokenizer.json."""
    uri = storage.join(model_dir, TOKENIZER_FILE)
    if not storage.exists(uri):
        raise InputError(f"{model_dir}: no {TOKENIZER_FILE} (token shards need a fast tokenizer's file)")
    return tokenizer_sha256(storage.read_bytes(uri))


@dataclass(frozen=True)
class Listed:
    """One file of a prepared dataset as index.json lists it."""

    uri: str
    items: int
    bytes: int
    sha256: str

    def read_whole(self) -> bytes:
        """The whole file, its length and sha256 checked against the index."""
        data = storage.read_bytes(self.uri)
        _check_length(self.uri, len(data), self.bytes)
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise InputError(
                f"{self.uri}: content does not match its sha256 in {INDEX} (changed or corrupted "
                "since fmops tokenize wrote it); run fmops tokenize again"
            )
        return data


def _check_length(uri: str, actual: int, expected: int) -> None:
    if actual != expected:
        problem = "truncated" if actual < expected else "longer than listed"
        raise InputError(f"{uri}: {problem}: {actual} bytes, {INDEX} says {expected}; run fmops tokenize again")


class TokenDataset:
    """An opened prepared dataset: `tokens(start, stop)` reads any token range, touching only the shards in it."""

    def __init__(self, uri: str, index: dict[str, Any], shards: list[Listed], documents: Listed):
        self.uri = uri
        self.index = index
        self.dtype = np.dtype(index["dtype"])
        self.shards = shards
        self.documents = documents
        self.num_tokens = int(index["tokens"])
        self.num_documents = int(index["documents"])
        self.offsets = np.cumsum([0, *(s.items for s in shards)])  # token offset of each shard's first token
        self._starts: np.ndarray | None = None

    @property
    def tokenizer_sha256(self) -> str:
        return str(self.index["tokenizer"]["sha256"])

    @property
    def eos_token_id(self) -> int:
        return int(self.index["eos_token_id"])

    def tokens(self, start: int, stop: int) -> np.ndarray:
        """Token ids [start, stop) of the whole stream (may span shards)."""
        if not 0 <= start <= stop <= self.num_tokens:
            raise IndexError(f"tokens [{start}, {stop}) outside 0..{self.num_tokens}")
        parts = []
        shard = int(np.searchsorted(self.offsets, start, side="right")) - 1
        while start < stop:
            first, last = int(self.offsets[shard]), int(self.offsets[shard + 1])
            end = min(stop, last)
            parts.append(self._read(shard, start - first, end - first))
            start, shard = end, shard + 1
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _read(self, shard: int, start: int, stop: int) -> np.ndarray:
        listed, size = self.shards[shard], self.dtype.itemsize
        first, count = start * size, (stop - start) * size
        if storage.is_remote(listed.uri):
            data = storage.read_range(listed.uri, first, first + count)
        else:
            # pread, not np.memmap: a mapping counts every page-cache folio it touches in this process's RSS
            # (large folios: ~0.6 MB per random block here, 100 MB after 5 steps on a 200 MB corpus); pread copies
            # only the block, and the kernel's page cache still serves repeated reads. Opened per read (microseconds)
            # so a corpus of many thousand shards never holds as many descriptors.
            descriptor = os.open(storage.local_path(listed.uri), os.O_RDONLY)
            try:
                data = os.pread(descriptor, count, first)
            finally:
                os.close(descriptor)
        _check_length(f"{listed.uri} [{first}, {first + count})", len(data), count)
        return np.frombuffer(data, dtype=self.dtype)

    def document_starts(self) -> np.ndarray:
        """The token offset of every document's first token (documents.bin read whole once, sha256 checked)."""
        if self._starts is None:
            self._starts = np.frombuffer(self.documents.read_whole(), dtype="<u8")
        return self._starts

    def verify(self) -> None:
        """Read every file whole and check its sha256 (what a download does; training reads ranges)."""
        for listed in [*self.shards, self.documents]:
            listed.read_whole()


def is_prepared(uri: str) -> bool:
    return storage.isdir(uri) and storage.exists(storage.join(uri, INDEX))


def open_dataset(uri: str) -> TokenDataset:
    """Open a prepared dataset: index.json read and checked, every listed file present with its length."""
    index_uri = storage.join(uri, INDEX)
    try:
        index = json.loads(storage.read_text(index_uri))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{index_uri}: not JSON ({error})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise InputError(f"{where(index_uri, field='format')}: expected {FORMAT!r} (written by fmops tokenize)")
    if index.get("version") != VERSION:
        raise InputError(f"{where(index_uri, field='version')}: {index.get('version')!r}, this fmops reads {VERSION}")
    missing = [
        key
        for key in ("dtype", "tokens", "documents", "shards", "document_starts", "tokenizer", "eos_token_id")
        if key not in index
    ]
    if missing:
        raise InputError(f"{where(index_uri, field=missing[0])}: missing")
    if not index["shards"] or int(index["tokens"]) == 0:
        raise InputError(f"{uri}: empty dataset ({INDEX} lists no tokens)")
    present = storage.sizes(uri)

    def listed(entry: dict[str, Any]) -> Listed:
        file = Listed(storage.join(uri, entry["file"]), int(entry["items"]), int(entry["bytes"]), entry["sha256"])
        if entry["file"] not in present:
            raise InputError(f"{file.uri}: listed in {INDEX} but missing")
        _check_length(file.uri, present[entry["file"]], file.bytes)
        return file

    shards = [listed(entry) for entry in index["shards"]]
    if sum(s.items for s in shards) != int(index["tokens"]):
        raise InputError(f"{where(index_uri, field='shards')}: shard tokens do not add up to {index['tokens']}")
    return TokenDataset(uri, index, shards, listed(index["document_starts"]))


class ShardWriter:
    """Append documents' token ids; every `shard_tokens` tokens become one shard file, written at once.

    Holds one shard's buffer (shard_tokens × 2 or 4 bytes), the document offsets (8 bytes a document) and the
    token counts (for the unigram entropy), whatever the corpus size.
    """

    def __init__(self, output: str, *, vocab_size: int, eos_token_id: int, shard_tokens: int):
        self.output = output
        self.dtype = dtype_for(vocab_size)
        self.eos = eos_token_id
        self.shard_tokens = shard_tokens
        self.buffer = np.empty(shard_tokens, dtype=self.dtype)
        self.filled = 0
        self.tokens = 0
        self.shards: list[dict[str, Any]] = []
        self.starts: list[np.ndarray] = []
        self.counts = np.zeros(vocab_size, dtype=np.int64)

    def add(self, documents: list[list[int]]) -> None:
        """One batch of documents (token ids, EOS not yet appended)."""
        lengths = np.fromiter((len(ids) + 1 for ids in documents), dtype=np.int64, count=len(documents))
        flat = np.fromiter(
            itertools.chain.from_iterable(ids + [self.eos] for ids in documents),  # noqa: RUF005
            dtype=self.dtype,
            count=int(lengths.sum()),
        )
        self.starts.append((self.tokens + np.cumsum(lengths) - lengths).astype("<u8"))
        self.counts += np.bincount(flat, minlength=len(self.counts))[: len(self.counts)]
        self.tokens += len(flat)
        while len(flat):
            take = min(len(flat), self.shard_tokens - self.filled)
            self.buffer[self.filled : self.filled + take] = flat[:take]
            self.filled, flat = self.filled + take, flat[take:]
            if self.filled == self.shard_tokens:
                self._flush()

    def _flush(self) -> None:
        if self.filled:
            name = f"tokens-{len(self.shards):05d}.bin"
            self.shards.append(self._write(name, self.buffer[: self.filled].tobytes(), self.filled))
            self.filled = 0

    def _write(self, name: str, data: bytes, items: int) -> dict[str, Any]:
        storage.atomic_write_bytes(storage.join(self.output, name), data)
        return {"file": name, "items": items, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def finish(self, *, tokenizer: dict[str, Any], sources: list[str]) -> dict[str, Any]:
        """Write the last shard, documents.bin and index.json (last); returns the index."""
        self._flush()
        starts = np.concatenate(self.starts) if self.starts else np.zeros(0, dtype="<u8")
        if self.tokens == 0:
            raise InputError(f"{', '.join(sources)}: no documents to tokenize")
        total = self.counts.sum()
        p = self.counts[self.counts > 0] / total
        index = {
            "format": FORMAT,
            "version": VERSION,
            "dtype": self.dtype.name,
            "vocab_size": len(self.counts),
            "eos_token_id": self.eos,
            "tokenizer": tokenizer,
            "tokens": self.tokens,
            "documents": len(starts),
            "shard_tokens": self.shard_tokens,
            "unigram_entropy": float(-(p * np.log(p)).sum()),
            "shards": self.shards,
            "document_starts": self._write(DOCUMENTS, starts.tobytes(), len(starts)),
            "sources": sources,
        }
        storage.write_json(storage.join(self.output, INDEX), index)
        return index


def batches(documents: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(documents)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def encode(backend: Any, texts: list[str]) -> list[list[int]]:
    """Token ids of a batch through the Rust tokenizer: `encode_batch_fast` runs the batch on every core
    (tokenizers' own thread pool) and skips the character offsets nobody here needs."""
    return [encoding.ids for encoding in backend.encode_batch_fast(texts, add_special_tokens=False)]


def load_tokenizer(model: str) -> tuple[Any, str]:
    """(tokenizer, identity) of a model directory (a path or URI: only its non-weight files are fetched) or a
    hub id (identity from the tokenizer.json it saves)."""
    import tempfile
    from pathlib import Path

    from transformers import AutoTokenizer

    from fmops.core import manifest

    if not manifest.looks_like_path(model):
        tokenizer = AutoTokenizer.from_pretrained(model)
        return tokenizer, loaded_tokenizer_sha256(tokenizer)
    with tempfile.TemporaryDirectory(prefix="fmops-tokenizer-") as tmp:
        for name in storage.listdir(model):
            if not name.endswith(WEIGHTS) and not storage.isdir(storage.join(model, name)):
                (Path(tmp) / name).write_bytes(storage.read_bytes(storage.join(model, name)))
        return AutoTokenizer.from_pretrained(tmp), model_tokenizer_sha256(model)


def loaded_tokenizer_sha256(tokenizer: Any) -> str:
    """The identity of a loaded tokenizer (a hub id's, which has no file to read before it is fetched)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="fmops-tokenizer-") as tmp:
        tokenizer.save_pretrained(tmp)
        return tokenizer_sha256((Path(tmp) / TOKENIZER_FILE).read_bytes())
