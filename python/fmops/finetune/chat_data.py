"""Chat datasets (JSON lines or parquet, local or s3://): every record validated before torch or TRL is
imported, then the files as one `datasets.Dataset` of the fields the trainer uses.

Three record shapes, the ones TRL's trainers take (https://huggingface.co/docs/trl/dataset_formats):
- conversational SFT: {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", ...}]}
- prompt/completion SFT: {"prompt": P, "completion": C}, each a string or a list of messages
- preference (DPO): {"prompt": P, "chosen": C, "rejected": R}, all strings or all lists of messages

Every problem is an InputError naming file, line (`file:N`; parquet: `file.parquet:row N`, rows counted
from 1) and field; the first bad record fails the whole input (a bad record is never skipped).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fmops.core.errors import InputError, where
from fmops.data import tables
from fmops.data.jsonl import iter_records
from fmops.data.places import Places, row_place
from fmops.models import loading

if TYPE_CHECKING:
    from datasets import Dataset, Features

ROLES = ("system", "user", "assistant")
Record = dict[str, Any]


def split_uris(values: list[str]) -> list[str]:
    """`--data a b,c` -> [a, b, c]; empty entries (templates pass '') are dropped."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def check_messages(value: Any, place: str, field: str) -> list[dict[str, str]]:
    """A non-empty list of {"role": system|user|assistant, "content": str}."""
    if not isinstance(value, list):
        raise InputError(f"{where(place, field=field)}: expected a list of messages, got {type(value).__name__}")
    if not value:
        raise InputError(f"{where(place, field=field)}: empty list of messages")
    for index, message in enumerate(value):
        item = f"{field}[{index}]"
        if not isinstance(message, dict):
            raise InputError(f"{where(place, field=item)}: expected an object, got {type(message).__name__}")
        for key in ("role", "content"):
            if key not in message:
                raise InputError(f"{where(place, field=f'{item}.{key}')}: missing")
            if not isinstance(message[key], str):
                kind = type(message[key]).__name__
                raise InputError(f"{where(place, field=f'{item}.{key}')}: expected str, got {kind}")
        role = message["role"]
        if role not in ROLES:
            raise InputError(f"{where(place, field=item + '.role')}: {role!r} is not one of {', '.join(ROLES)}")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def check_turns(value: Any, place: str, field: str) -> str | list[dict[str, str]]:
    """A string or a list of messages; neither may be empty."""
    if field != "prompt" and value in ("", []):
        raise InputError(f"{where(place, field=field)}: empty")
    if isinstance(value, str):
        if not value.strip():
            raise InputError(f"{where(place, field=field)}: empty or whitespace-only text")
        return value
    if isinstance(value, list):
        return check_messages(value, place, field)
    raise InputError(f"{where(place, field=field)}: expected str or list of messages, got {type(value).__name__}")


def _same_kind(record: Record, fields: tuple[str, ...], place: str) -> None:
    kinds = {field: "str" if isinstance(record[field], str) else "messages" for field in fields}
    if len(set(kinds.values())) > 1:
        described = ", ".join(f"{field}={kind}" for field, kind in kinds.items())
        raise InputError(f"{place}: {', '.join(fields)} must all be strings or all messages ({described})")


def sft_record(record: Record, place: str) -> Record:
    """A conversational or prompt/completion record, checked."""
    if "messages" in record:
        messages = check_messages(record["messages"], place, "messages")
        if not any(m["role"] == "assistant" for m in messages):
            raise InputError(f"{where(place, field='messages')}: no assistant message to learn from")
        return {"messages": messages}
    if "prompt" in record or "completion" in record:
        checked = {}
        for field in ("prompt", "completion"):
            if field not in record:
                raise InputError(f"{where(place, field=field)}: missing")
            checked[field] = check_turns(record[field], place, field)
        _same_kind(checked, ("prompt", "completion"), place)
        return checked
    raise InputError(f"{where(place, field='messages')}: missing (expected 'messages' or 'prompt'/'completion')")


def preference_record(record: Record, place: str) -> Record:
    """A prompt/chosen/rejected record, checked; chosen and rejected must differ."""
    checked = {}
    for field in ("prompt", "chosen", "rejected"):
        if field not in record:
            raise InputError(f"{where(place, field=field)}: missing")
        checked[field] = check_turns(record[field], place, field)
    _same_kind(checked, ("prompt", "chosen", "rejected"), place)
    if checked["chosen"] == checked["rejected"]:
        raise InputError(f"{where(place, field='rejected')}: identical to 'chosen'")
    return checked


def _shape(record: Record) -> str:
    """The record shape: `messages`, or its fields and their kind, e.g. `prompt/completion as str`."""
    if "messages" in record:
        return "messages"
    kind = "str" if isinstance(next(iter(record.values())), str) else "messages"
    return f"{'/'.join(record)} as {kind}"


class Checker:
    """Validates records as `kind` ("sft" or "preference") in the order they are read: every record one shape,
    the first one's."""

    def __init__(self, kind: str) -> None:
        self.check = sft_record if kind == "sft" else preference_record
        self.first: Record = {}
        self.shape = ""

    def __call__(self, raw: Record, place: str) -> None:
        record = self.check(raw, place)
        shape = _shape(record)
        if not self.shape:
            self.first, self.shape = record, shape
        elif shape != self.shape:
            raise InputError(f"{place}: record has fields {shape}, earlier records {self.shape}")

    def json_lines(self, uri: str) -> array:
        """Every line of a JSON-lines file checked, read with fmops' own strict reader: exact line numbers,
        a missing field told apart from a null one (a table of rows gives every row every column), and a
        malformed line refused before `datasets` is imported. Returns the records' line numbers."""
        lines = array("L")
        for line, raw in iter_records(uri):
            self(raw, where(uri, line))
            lines.append(line)
        return lines

    def parquet_rows(self, uri: str, table: Dataset) -> None:
        """Every row of a parquet file checked, as `datasets` read it."""
        for row, raw in enumerate(tables.rows(table), start=1):
            self(raw, row_place(uri, row))


def load(uris: list[str], kind: str) -> tuple[Dataset, Places]:
    """Every record of every file validated as `kind` ("sft" or "preference"), one shape across all files;
    then the files as one Dataset of the fields the trainer uses, and each record's place, for errors found
    once the tokenizer is loaded."""
    if not uris:
        raise InputError("--data: no dataset given")
    forms = {uri: tables.format_of(uri) for uri in uris}  # a wrong type fails before any file is read
    checker, places, read = Checker(kind), Places(), {}
    for uri in uris:
        if forms[uri] == "json":
            places.add_lines(uri, checker.json_lines(uri))
        else:
            read[uri] = tables.load(uri)
            checker.parquet_rows(uri, read[uri])
            places.add_rows(uri, len(read[uri]))
    from datasets import concatenate_datasets  # every record is valid: only now are JSON lines read as tables

    features = trainer_features(checker.first)
    with tables.quiet():
        parts = [conformed(read[uri] if uri in read else tables.load(uri), features) for uri in uris]
        return (parts[0] if len(parts) == 1 else concatenate_datasets(parts)), places


def trainer_features(record: Record) -> Features:
    """The columns the trainer reads, typed as a validated record has them: text, or role/content messages."""
    from datasets import Features, List, Value

    message = {"role": Value("string"), "content": Value("string")}
    return Features(
        {field: Value("string") if isinstance(value, str) else List(message) for field, value in record.items()}
    )


def conformed(table: Dataset, features: Features) -> Dataset:
    """Only the trainer's columns, typed alike in every file (concatenating needs one schema). A file whose
    columns differ (other keys in its messages, which a template could read; large strings) is rewritten as
    those columns alone."""
    table = table.select_columns(list(features))
    if table.features == features:
        return table
    return table.map(_plain, batched=True, features=features)


def _plain(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {
        field: [
            turns if isinstance(turns, str) else [{"role": m["role"], "content": m["content"]} for m in turns]
            for turns in values
        ]
        for field, values in batch.items()
    }


@dataclass(frozen=True)
class FinetuneInputs:
    """What a finetuning run reads and writes, validated: the model, the data files, their records as one
    Dataset and where each record is (`file:line`, `file.parquet:row N`)."""

    model: str
    data: list[str]
    records: Dataset
    places: Places
    output: str


def inputs(*, model: str, data: list[str], output: str, kind: Literal["sft", "preference"]) -> FinetuneInputs:
    """Every record of every data file checked, and the model complete, before torch is imported."""
    uris = split_uris(data)
    records, places = load(uris, kind)
    resolved = loading.check(model)  # a registry pointer becomes the version it names
    if not output:
        raise InputError("--output: no path given")
    return FinetuneInputs(model=resolved, data=uris, records=records, places=places, output=output)
