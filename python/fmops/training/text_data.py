"""Read pretraining text strictly, before torch is imported: JSONL `text`, plain text, or parquet.

Every location is a URI (path, `file://`, `s3://` through fsspec). A value may be a comma-separated list, and
a directory stands for the data files directly inside it (sorted). Formats, by file name:

    *.jsonl, *.json   one JSON object per line with a non-empty string field `text` (one document a line)
    *.txt, *.text     UTF-8 text; documents are separated by blank lines
    *.parquet         a string column `text`, one document a row

A bad line fails the whole input (it is never skipped): the InputError names file, line (or row) and problem.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from fmops.core import storage
from fmops.core.errors import InputError, where
from fmops.data.jsonl import iter_records, read_lines, require_text

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".txt": "text", ".text": "text", ".parquet": "parquet"}
FIELD = "text"


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
    """Every document of every file named by `values` (flag values), validated line by line."""
    files = expand(values)
    if not files:
        raise InputError(f"{role}: no path given")
    documents = [doc for uri in files for doc in read_documents(uri)]
    return Corpus(documents=documents, files=files)


def read_documents(uri: str) -> list[str]:
    kind = FORMATS.get(_suffix(uri))
    if kind is None:
        raise InputError(f"{uri}: unknown data format (expected one of {', '.join(sorted(FORMATS))})")
    return {"jsonl": _jsonl, "text": _text, "parquet": _parquet}[kind](uri)


def _suffix(uri: str) -> str:
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _jsonl(uri: str) -> list[str]:
    return [require_text(record, FIELD, uri, line) for line, record in iter_records(uri)]


def _text(uri: str) -> list[str]:
    documents, current = [], []
    for line in [*read_lines(uri), ""]:
        if line.strip():
            current.append(line)
        elif current:
            documents.append("\n".join(current))
            current = []
    return documents


def _parquet(uri: str) -> list[str]:
    import pyarrow as pa  # light (no torch); only needed for parquet input
    import pyarrow.parquet as pq

    if not storage.exists(uri):
        raise InputError(f"{uri}: does not exist")
    try:
        table = pq.read_table(io.BytesIO(storage.read_bytes(uri)))
    except pa.ArrowException as error:
        raise InputError(f"{uri}: not a readable parquet file ({str(error).splitlines()[0]})") from None
    if table.num_rows == 0:
        raise InputError(f"{uri}: file is empty")
    if FIELD not in table.column_names:
        raise InputError(f"{where(uri, field=FIELD)}: missing column")
    column = table.column(FIELD)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise InputError(f"{where(uri, field=FIELD)}: expected string column, got {column.type}")
    documents = column.to_pylist()
    for row, value in enumerate(documents, start=1):
        if value is None or not value.strip():
            raise InputError(f"{where(uri, row, FIELD)}: empty or whitespace-only text")
    return documents
