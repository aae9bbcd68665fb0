"""Record files (JSON lines, parquet) as Hugging Face `datasets` tables, local, file:// or s3://.

`datasets` reads them into Arrow, cached and memory-mapped (its cache: HF_DATASETS_CACHE), so records are
never all held as Python objects. Imports `datasets` and pyarrow, never torch. What the reader refuses (a
corrupt or truncated parquet, an unreadable object) is an InputError naming the file.
"""

from __future__ import annotations

import contextlib
import os.path
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fmops.core import storage
from fmops.core.errors import InputError
from fmops.data.jsonl import require_file

if TYPE_CHECKING:
    from datasets import Dataset

# File name ending -> the `datasets` builder that reads it; a .json file holds JSON lines, as a .jsonl does.
FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}
BATCH = 1024  # rows per batch turned into Python objects while validating


def format_of(uri: str) -> str:
    """`json` or `parquet`, by the file's name; any other type is an InputError."""
    suffix = os.path.splitext(uri.rstrip("/"))[1].lower()
    if suffix not in FORMATS:
        expected = ", ".join(FORMATS)
        raise InputError(f"{uri}: unsupported file type '{suffix or '(none)'}', expected one of {expected}")
    return FORMATS[suffix]


def load(uri: str) -> Dataset:
    """The whole file as a Dataset, every column as the file has it; an empty one is an InputError."""
    form = format_of(uri)
    require_file(uri)
    from datasets import load_dataset
    from datasets.exceptions import DatasetGenerationError
    from pyarrow import ArrowException

    with quiet():
        try:
            if form == "parquet" and not parquet_rows(uri):  # `datasets` fails on a parquet of no rows
                raise InputError(f"{uri}: file is empty")
            dataset = load_dataset(form, data_files=[uri], split="train", storage_options=storage.options(uri))
        except (DatasetGenerationError, ArrowException, OSError, ValueError) as error:
            raise InputError(f"{uri}: cannot be read as {form}: {reason(error)}") from None
    if not len(dataset):
        raise InputError(f"{uri}: file is empty")
    return dataset


def parquet_rows(uri: str) -> int:
    """The row count a parquet file's footer gives (one small read)."""
    import pyarrow.parquet as pq

    with storage.open_binary(uri) as handle:
        return pq.ParquetFile(handle).metadata.num_rows


def reason(error: BaseException) -> str:
    """The first line of the innermost cause: `datasets` wraps the reader's own error in a generic one."""
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """No progress bars or logged errors from `datasets` while it reads: a problem is one InputError line,
    and pod logs carry no bars (as the Trainer's, with disable_tqdm)."""
    import datasets
    from datasets.utils import logging

    verbosity, bars = logging.get_verbosity(), datasets.is_progress_bar_enabled()
    logging.set_verbosity(logging.CRITICAL)
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            datasets.enable_progress_bars()


def rows(dataset: Dataset) -> Iterator[dict[str, Any]]:
    """Each row as a dict, without the columns it has no value in: a column's null is how a parquet row (or
    one of several JSON objects read as one table) lacks that field."""
    for batch in dataset.iter(batch_size=BATCH):
        columns = list(batch)
        for values in zip(*batch.values(), strict=True):
            yield {name: value for name, value in zip(columns, values, strict=True) if value is not None}
