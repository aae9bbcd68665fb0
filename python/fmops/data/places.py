"""Where each record of several data files read one after another came from, for errors found later.

A JSON-lines record is at `file:line` (the line numbers are kept: blank lines make them differ from the
record's index); a parquet record is at `file:row N`, rows counted from 1, computed from its index.
"""

from __future__ import annotations

import bisect
from array import array

from fmops.core.errors import where


def row_place(uri: str, row: int) -> str:
    """`file.parquet:row N`, N counted from 1."""
    return f"{uri}:row {row}"


class Places:
    """Record index -> place, for files added in the order their records were concatenated."""

    def __init__(self) -> None:
        self._uris: list[str] = []
        self._lines: list[array | None] = []
        self._starts = [0]  # index of each file's first record, then the total

    def add_lines(self, uri: str, lines: array) -> None:
        """A JSON-lines file whose records are on `lines`."""
        self._add(uri, len(lines), lines)

    def add_rows(self, uri: str, count: int) -> None:
        """A parquet file of `count` rows."""
        self._add(uri, count, None)

    def _add(self, uri: str, count: int, lines: array | None) -> None:
        self._uris.append(uri)
        self._lines.append(lines)
        self._starts.append(self._starts[-1] + count)

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, index: int) -> str:
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} of {len(self)}")
        file = bisect.bisect_right(self._starts, index) - 1
        offset = index - self._starts[file]
        lines = self._lines[file]
        uri = self._uris[file]
        return row_place(uri, offset + 1) if lines is None else where(uri, lines[offset])
