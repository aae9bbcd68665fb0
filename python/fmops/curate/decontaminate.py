"""Decontamination against evaluation data: a document that shares an n-gram of tokens with an evaluation item
is dropped; an item shorter than n tokens counts when it occurs whole.

Pure Python and read before datatrove is imported, so a bad task file is refused in about a second. Text is
normalised the same way on both sides: lower case, Unicode-folded, split into words and single punctuation
marks, so "What is 22+13?" is [what, is, 22, +, 13, ?] and a sum keeps its operators (dropping them would let
"22 13 35" match numbers that only stand side by side).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from fmops.core import storage
from fmops.core.errors import InputError
from fmops.data.demo import shipped_dir
from fmops.data.jsonl import iter_records

TOKEN = re.compile(r"\w+|[^\w\s]")
TASK_SUFFIXES = (".jsonl", ".json")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def strings(value: object) -> Iterator[str]:
    """Every string inside a record's value: the question, the answer, each choice."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)


@dataclass
class EvalIndex:
    """The evaluation items' n-grams, and their short items (fewer than n tokens) by length."""

    n: int
    min_tokens: int = 1
    ngrams: set[tuple[str, ...]] = field(default_factory=set)
    short: dict[int, set[tuple[str, ...]]] = field(default_factory=dict)
    items: int = 0

    def add(self, text: str) -> None:
        words = tuple(tokens(text))
        if len(words) < self.min_tokens:
            return
        self.items += 1
        if len(words) < self.n:
            self.short.setdefault(len(words), set()).add(words)
            return
        self.ngrams.update(words[i : i + self.n] for i in range(len(words) - self.n + 1))

    def contaminated(self, text: str) -> bool:
        words = tokens(text)
        windows = ([(self.n, self.ngrams)] if self.ngrams else []) + sorted(self.short.items())
        for length, known in windows:
            if any(tuple(words[i : i + length]) in known for i in range(len(words) - length + 1)):
                return True
        return False


def default_task_files() -> list[str]:
    """The shipped demo evaluation tasks' data: python/fmops/data/demo/eval/*.jsonl."""
    return sorted(str(path) for path in (shipped_dir() / "eval").glob("*.jsonl"))


def task_files(values: Iterable[str]) -> list[str]:
    """Flag values (files, directories, comma lists) -> the JSONL files they name; none given: the demo tasks'."""
    uris = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not uris:
        return default_task_files()
    files: list[str] = []
    for uri in uris:
        if not storage.exists(uri):
            raise InputError(f"{uri}: evaluation task data does not exist")
        if not storage.isdir(uri):
            files.append(uri)
            continue
        inside = [storage.join(uri, name) for name in storage.listdir(uri) if name.endswith(TASK_SUFFIXES)]
        if not inside:
            raise InputError(f"{uri}: directory holds no .jsonl task data")
        files.extend(inside)
    return files


def build_index(files: list[str], n: int, min_tokens: int = 1) -> EvalIndex:
    """Every string of every record of the task files, checked line by line (bad line: InputError)."""
    index = EvalIndex(n=n, min_tokens=min_tokens)
    for uri in files:
        for _, record in iter_records(uri):
            for text in strings(record):
                index.add(text)
    return index
