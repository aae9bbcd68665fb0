"""The datatrove blocks fmops adds: a reader over explicit shard files, the decontamination filter, PII
redaction that counts what it changed, exact signatures that pass documents on, and the final removal of the
documents the exact and MinHash stages named. Imported only once the inputs are valid (datatrove is heavy)."""

from __future__ import annotations

import gzip
import io
import struct
from collections.abc import Iterator
from typing import Any

import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.exact_dedup import ExactDedupSignature
from datatrove.pipeline.dedup.minhash import SENTINEL, MinhashDedupSignature
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.formatters.pii import PIIFormatter

from fmops.core import storage
from fmops.curate.decontaminate import EvalIndex
from fmops.curate.shards import FORMATS, suffix

# metadata keys fmops adds for its own bookkeeping; never written to the curated documents
SOURCE, GROUP = "fmops_source", "fmops_group"
PRIVATE = (SOURCE, GROUP)


def read_jsonl(handle: Any) -> Iterator[dict[str, Any]]:
    for line in handle:
        if line.strip():
            yield orjson.loads(line)


def read_text(handle: Any) -> Iterator[dict[str, Any]]:
    """Documents separated by blank lines, as `fmops tokenize` reads .txt."""
    current: list[str] = []
    for raw in io.TextIOWrapper(handle, encoding="utf-8"):
        line = raw.rstrip("\r\n")
        if line.strip():
            current.append(line)
        elif current:
            yield {"text": "\n".join(current)}
            current = []
    if current:
        yield {"text": "\n".join(current)}


def read_parquet(handle: Any) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(handle).iter_batches(batch_size=1024):
        yield from batch.to_pylist()


READERS = {"jsonl": read_jsonl, "text": read_text, "parquet": read_parquet}


class ShardReader(PipelineStep):
    """The input files dealt round robin over the tasks (file i to task i mod tasks), each record a Document
    with `text` and the record's other fields as metadata."""

    name = "fmops shard reader"
    type = "📖 - READER"

    def __init__(self, files: list[str]):
        super().__init__()
        self.files = files

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for uri in self.files[rank::world_size]:
            with storage.open_binary(uri) as handle:
                for number, record in enumerate(READERS[FORMATS[suffix(uri)]](handle)):
                    text = record.pop("text", None)
                    if not isinstance(text, str) or not text.strip():
                        self.stat_update("empty")
                        continue
                    self.stat_update("documents")
                    self.update_doc_stats(Document(text=text, id=""))
                    metadata = {**record, SOURCE: uri, GROUP: rank}
                    yield Document(text=text, id=f"{uri}#{number}", metadata=metadata)


class IntermediateReader(PipelineStep):
    """Task r reads `{r:05d}.jsonl.gz`, the file its own filter task wrote: the document order the signatures
    were numbered in. A task whose every document was filtered out wrote none."""

    name = "fmops intermediate reader"
    type = "📖 - READER"

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        uri = storage.join(self.folder, f"{rank:05d}.jsonl.gz")
        if not storage.exists(uri):
            return
        with storage.open_binary(uri) as raw, gzip.open(raw) as handle:
            for record in read_jsonl(handle):
                yield Document(text=record["text"], id=record["id"], metadata=record.get("metadata", {}))


def curated_record(writer: Any, document: Document) -> dict[str, Any]:
    """A kept document as the input had it: `text` and the input's other fields."""
    fields = {key: value for key, value in document.metadata.items() if key not in PRIVATE}
    return {"text": document.text, **fields}


def earlier_group_first(document: Document) -> int:
    """Exact dedup keeps the copy in the lowest shard group (then the earliest in it), as MinHash's clusters
    do for identical documents: both then name the same copies as the ones to drop."""
    return 65535 - document.metadata[GROUP]


class Decontaminate(BaseFilter):
    name = "fmops decontamination"

    def __init__(self, index: EvalIndex):
        super().__init__()
        self.index = index

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return (False, "contaminated") if self.index.contaminated(doc.text) else True


class RedactPII(PIIFormatter):
    """datatrove's email and public-IP replacement, counting the documents it changed (they are kept)."""

    def format(self, text: str) -> str:
        redacted = super().format(text)
        if redacted != text:
            self.stat_update("redacted")
        return redacted


class ExactSignatures(ExactDedupSignature):
    """datatrove's exact signatures, passing every document on so MinHash signs the same sequence."""

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        signatures = []
        for doc_idx, doc in enumerate(data):
            self.stat_update("total")
            signatures.extend(self.get_hashes(doc, doc_idx))
            yield doc
        self.save_hashes(rank, signatures)


def document_ids(uri: str) -> set[int]:
    """The uint32 document numbers of a datatrove removal file (none when it does not exist)."""
    if not storage.exists(uri):
        return set()
    data = storage.read_bytes(uri)
    return set(struct.unpack(f"<{len(data) // 4}I", data))


def history_matches(pairs_folder: str, rank: int) -> set[int]:
    """This task's documents that a MinHash band matched in the history (pairs whose first member is the index)."""
    found: set[int] = set()
    for name in storage.listdir(pairs_folder):
        data = storage.read_bytes(storage.join(pairs_folder, name))
        for f1, _, f2, d2 in struct.iter_unpack("<4I", data):
            if f1 == SENTINEL and f2 == rank:
                found.add(d2)
    return found


class DropDuplicates(PipelineStep):
    """Drop what the exact and MinHash stages named, counting why.

    Two identical documents collide in every MinHash band, so MinHash's clusters decide which copy of a
    document long enough to have shingles survives; exact dedup decides for the shorter ones (which MinHash
    cannot sign). Letting both decide would drop both copies when they chose differently."""

    name = "fmops duplicate removal"
    type = "🫂 - DEDUP"

    def __init__(self, exact_folder: str | None, minhash_folder: str | None, signer: MinhashDedupSignature | None):
        super().__init__()
        self.exact_folder, self.minhash_folder, self.signer = exact_folder, minhash_folder, signer

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        exact, near, history = set(), set(), set()
        if self.exact_folder:
            exact = document_ids(storage.join(self.exact_folder, "00000", f"{rank:05d}.c4_dup"))
        if self.minhash_folder:
            near = document_ids(storage.join(self.minhash_folder, "remove", f"{rank:06d}.remove"))
            history = history_matches(storage.join(self.minhash_folder, "pairs"), rank)
        for index, doc in enumerate(data):
            reason = self.reason(index, doc, exact, near, history)
            if reason:
                self.stat_update(f"dropped_{reason}")
                continue
            self.stat_update("kept")
            yield doc

    def reason(self, index: int, doc: Document, exact: set[int], near: set[int], history: set[int]) -> str:
        if index in near:
            if index in history:
                return "history_duplicate"
            return "exact_duplicate" if index in exact else "near_duplicate"
        if index in exact and (self.signer is None or self.signer.get_shingles(doc.text).size == 0):
            return "exact_duplicate"
        return ""
