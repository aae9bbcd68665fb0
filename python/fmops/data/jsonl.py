"""Read JSONL records strictly: every problem names file and line, and a bad line fails the whole input.

Used by every stage *before* torch or transformers are imported, so bad input is refused in about a second.
A record longer than MAX_RECORD_BYTES or nested deeper than Python's parser goes is refused the same way:
such a line is hostile or broken, and would otherwise exhaust the reader's or the tokenizer's memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fmops.core import storage
from fmops.core.errors import InputError, where

MAX_RECORD_BYTES = 1024 * 1024
"""1 MiB per line: a conversation of a quarter to three quarters of a million tokens, a hundred times the
longest sequence any stage trains on. Tokenizing grows with the record: 8 MiB of text took 1.9 GB and 11 s
with the demo tokenizer (5.5 M tokens), so the limit stays an order of magnitude below that."""
CHUNK_BYTES = 1024 * 1024


def require_file(uri: str) -> None:
    """`uri` names a file: no path, a missing path or a directory is an InputError naming it."""
    if not uri:
        raise InputError("data: no path given")
    if not storage.exists(uri):
        raise InputError(f"{uri}: does not exist")
    if storage.isdir(uri):
        raise InputError(f"{uri}: is a directory, expected a file")


def iter_lines(uri: str) -> Iterator[tuple[int, str]]:
    """(line number, text without its line end) of every line, read as a stream and decoded as UTF-8; a
    missing, undecodable or empty file is an InputError. Lines end at '\\n' only, as JSON-lines readers
    (datasets, pyarrow) split them: a U+2028, valid inside a JSON string, stays in its line."""
    require_file(uri)
    blank = True
    with storage.open_binary(uri) as handle:
        for number, raw in enumerate(bounded_lines(handle, uri), start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{where(uri, number)}: bytes are not valid UTF-8") from None
            blank = blank and not text.strip()
            yield number, text.removesuffix("\r")
    if blank:
        raise InputError(f"{uri}: file is empty")


def bounded_lines(handle: Any, uri: str, limit: int = MAX_RECORD_BYTES) -> Iterator[bytes]:
    """The lines of a binary stream without their '\n', read in chunks: a line over `limit` bytes is an
    InputError as soon as the limit is passed, so memory stays bounded however long the line runs."""
    pending, number = b"", 1
    while chunk := handle.read(CHUNK_BYTES):
        *complete, pending = (pending + chunk).split(b"\n")
        for line in complete:
            _check_length(len(line), uri, number, limit)
            yield line
            number += 1
        _check_length(len(pending), uri, number, limit)
    if pending:
        yield pending


def _check_length(size: int, uri: str, number: int, limit: int) -> None:
    if size > limit:
        raise InputError(
            f"{where(uri, number)}: record of over {limit} bytes exceeds the limit of "
            f"{limit // (1024 * 1024)} MiB per record"
        )


def iter_records(uri: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a line that is not a JSON object is an error."""
    for number, line in iter_lines(uri):
        if line.strip():
            yield number, parse_record(line, uri, number)


def parse_record(line: str, uri: str, number: int) -> dict[str, Any]:
    """One line as a JSON object; anything else is an InputError naming file and line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"{where(uri, number)}: malformed JSON ({error.msg} at column {error.colno})") from None
    except RecursionError:
        raise InputError(f"{where(uri, number)}: JSON nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise InputError(f"{where(uri, number)}: malformed JSON ({error})") from None
    if not isinstance(record, dict):
        raise InputError(f"{where(uri, number)}: expected a JSON object, got {type(record).__name__}")
    return record


def require(record: dict[str, Any], field: str, kind: type | tuple[type, ...], uri: str, line: int) -> Any:
    """The field's value, which must be present and of `kind`."""
    if field not in record:
        raise InputError(f"{where(uri, line, field)}: missing")
    value = record[field]
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
        names = " or ".join(k.__name__ for k in _as_tuple(kind))
        raise InputError(f"{where(uri, line, field)}: expected {names}, got {type(value).__name__}")
    return value


def require_text(record: dict[str, Any], field: str, uri: str, line: int) -> str:
    """A string field that is not empty or whitespace only."""
    value = require(record, field, str, uri, line)
    if not value.strip():
        raise InputError(f"{where(uri, line, field)}: empty or whitespace-only text")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
