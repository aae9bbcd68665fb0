"""Read pretraining text strictly, before torch is imported: JSONL `text`, plain text, or parquet.

Every location is a URI (path, `file://`, `s3://` through fsspec). A value may be a comma-separated list, and
a directory stands for the data files directly inside it (sorted). Formats, by file name:

    *.jsonl, *.json   one JSON object per line with a non-empty string field `text` (one document a line)
    *.txt, *.text     UTF-8 text; documents are separated by blank lines
    *.parquet         a string column `text`, one document a row

Files are read as streams (line by line, parquet by record batch), so `fmops tokenize` holds one batch of
documents at a time whatever the corpus size. A bad line fails the whole input (it is never skipped): the
InputError names file, line (or row) and problem.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fmops.core import storage
from fmops.core.errors import InputError, where
from fmops.data.jsonl import bounded_lines, parse_record, require_text

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".txt": "text", ".text": "text", ".parquet": "parquet"}
FIELD = "text"
# A book is a few MiB of text; a longer line is more likely a broken file, and tokenizing it whole would
# take gigabytes (1 MiB of text is about 0.7 million tokens and 240 MB of tokenizer memory here).
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Corpus:
    """Documents read from one or more files, with the files they came from (for the manifest)."""

    documents: list[str]
    files: list[str]


def expand(values: list[str]) -> list[str]:
    """Flag values -> file URIs: split comma lists, drop empties ('' means not given), expand directories."""
    uris = [part.strip() for value in values for part in value.split(",") if part.strip()]
    files: list[str] = []
    for uri in uris:
        if not storage.exists(uri):
            raise InputError(f"{uri}: does not exist")
        if not storage.isdir(uri):
            files.append(uri)
            continue
        inside = [storage.join(uri, name) for name in storage.listdir(uri) if _suffix(name) in FORMATS]
        if not inside:
            raise InputError(f"{uri}: directory holds no {', '.join(sorted(FORMATS))} files")
        files.extend(inside)
    return files


def read_corpus(values: list[str], role: str = "data") -> Corpus:
    """Every document of every file named by `values` (flag values), validated line by line, in memory."""
    files = expand(values)
    if not files:
        raise InputError(f"{role}: no path given")
    documents = [doc for uri in files for doc in iter_documents(uri)]
    return Corpus(documents=documents, files=files)


def read_documents(uri: str) -> list[str]:
    return list(iter_documents(uri))


def iter_documents(uri: str) -> Iterator[str]:
    """The documents of one file, in order, validated as they are read."""
    kind = FORMATS.get(_suffix(uri))
    if kind is None:
        raise InputError(f"{uri}: unknown data format (expected one of {', '.join(sorted(FORMATS))})")
    if not storage.exists(uri):
        raise InputError(f"{uri}: does not exist")
    if storage.isdir(uri):
        raise InputError(f"{uri}: is a directory, expected a file")
    return {"jsonl": _jsonl, "text": _text, "parquet": _parquet}[kind](uri)


def _suffix(uri: str) -> str:
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _lines(uri: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line, decoded one at a time; a file with no text at all is an error."""
    seen_text = False
    with storage.open_binary(uri) as handle:
        for number, raw in enumerate(bounded_lines(handle, uri, MAX_DOCUMENT_BYTES), start=1):
            try:
                line = raw.decode("utf-8").removesuffix("\r")
            except UnicodeDecodeError:
                raise InputError(f"{where(uri, number)}: bytes are not valid UTF-8") from None
            seen_text = seen_text or bool(line.strip())
            yield number, line
    if not seen_text:
        raise InputError(f"{uri}: file is empty")


def _jsonl(uri: str) -> Iterator[str]:
    for number, line in _lines(uri):
        if line.strip():
            yield require_text(parse_record(line, uri, number), FIELD, uri, number)


def _text(uri: str) -> Iterator[str]:
    current: list[str] = []
    for _, line in _lines(uri):
        if line.strip():
            current.append(line)
        elif current:
            yield "\n".join(current)
            current = []
    if current:
        yield "\n".join(current)


def _parquet(uri: str) -> Iterator[str]:
    import pyarrow as pa  # light (no torch); only needed for parquet input
    import pyarrow.parquet as pq

    with storage.open_binary(uri) as handle:
        try:
            table = pq.ParquetFile(handle)
        except pa.ArrowException as error:
            raise InputError(f"{uri}: not a readable parquet file ({str(error).splitlines()[0]})") from None
        if table.metadata.num_rows == 0:
            raise InputError(f"{uri}: file is empty")
        if FIELD not in table.schema_arrow.names:
            raise InputError(f"{where(uri, field=FIELD)}: missing column")
        kind = table.schema_arrow.field(FIELD).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise InputError(f"{where(uri, field=FIELD)}: expected string column, got {kind}")
        row = 0
        for batch in table.iter_batches(batch_size=8192, columns=[FIELD]):
            for value in batch.column(0).to_pylist():
                row += 1
                if value is None or not value.strip():
                    raise InputError(f"{where(uri, row, FIELD)}: empty or whitespace-only text")
                yield value
