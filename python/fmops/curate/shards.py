"""The input shards of `fmops curate`, found and checked before datatrove is imported: every JSONL line a JSON
object with a non-empty string `text` (its other fields are kept), .txt as UTF-8 documents separated by blank
lines, parquet with a string column `text`. A bad line or file is one InputError naming it."""

from __future__ import annotations

from fmops.core import storage
from fmops.core.errors import InputError, where
from fmops.data.jsonl import iter_lines, iter_records, require_text

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".txt": "text", ".text": "text", ".parquet": "parquet"}
MAX_GROUPS = 64


def suffix(uri: str) -> str:
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def expand(values: list[str]) -> list[str]:
    """Flag values -> data file URIs: comma lists split, a directory stands for its data files (sorted)."""
    uris = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not uris:
        raise InputError("--data: no path given")
    files: list[str] = []
    for uri in uris:
        if not storage.exists(uri):
            raise InputError(f"{uri}: does not exist")
        if storage.isdir(uri):
            inside = [storage.join(uri, name) for name in storage.listdir(uri) if suffix(name) in FORMATS]
            if not inside:
                raise InputError(f"{uri}: directory holds no {', '.join(sorted(FORMATS))} files")
            files.extend(inside)
        elif suffix(uri) not in FORMATS:
            raise InputError(f"{uri}: unknown data format (expected one of {', '.join(sorted(FORMATS))})")
        else:
            files.append(uri)
    return files


def check(uri: str) -> int:
    """Read one shard through, as curate will; returns its number of documents."""
    kind = FORMATS[suffix(uri)]
    if kind == "jsonl":
        return sum(1 for number, record in iter_records(uri) if require_text(record, "text", uri, number))
    if kind == "text":
        return sum(1 for _ in iter_lines(uri))
    return _check_parquet(uri)


def _check_parquet(uri: str) -> int:
    import pyarrow as pa  # light (no datatrove); only needed for parquet input
    import pyarrow.parquet as pq

    with storage.open_binary(uri) as handle:
        try:
            table = pq.ParquetFile(handle)
        except pa.ArrowException as error:
            raise InputError(f"{uri}: not a readable parquet file ({str(error).splitlines()[0]})") from None
        if "text" not in table.schema_arrow.names:
            raise InputError(f"{where(uri, field='text')}: missing column")
        kind = table.schema_arrow.field("text").type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise InputError(f"{where(uri, field='text')}: expected a string column, got {kind}")
        return table.metadata.num_rows


def groups(files: list[str], requested: int) -> int:
    """How many tasks the files are dealt into: as asked, else one per file (at most MAX_GROUPS)."""
    return requested or min(len(files), MAX_GROUPS)
