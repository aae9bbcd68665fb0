"""Validate chat datasets line by line, before torch or TRL is imported.

Three record shapes, the ones TRL's trainers take (https://huggingface.co/docs/trl/dataset_formats):
- conversational SFT: {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", ...}]}
- prompt/completion SFT: {"prompt": P, "completion": C}, each a string or a list of messages
- preference (DPO): {"prompt": P, "chosen": C, "rejected": R}, all strings or all lists of messages

Every problem is an InputError naming file, line and field; the first bad line fails the whole input (a bad
line is never skipped). The records come back with only the fields the trainer uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fmops.core.errors import InputError, where
from fmops.data.jsonl import iter_records
from fmops.models import loading

ROLES = ("system", "user", "assistant")
Record = dict[str, Any]


def split_uris(values: list[str]) -> list[str]:
    """`--data a b,c` -> [a, b, c]; empty entries (templates pass '') are dropped."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def check_messages(value: Any, uri: str, line: int, field: str) -> list[dict[str, str]]:
    """A non-empty list of {"role": system|user|assistant, "content": str}."""
    if not isinstance(value, list):
        raise InputError(f"{where(uri, line, field)}: expected a list of messages, got {type(value).__name__}")
    if not value:
        raise InputError(f"{where(uri, line, field)}: empty list of messages")
    for index, message in enumerate(value):
        place = f"{field}[{index}]"
        if not isinstance(message, dict):
            raise InputError(f"{where(uri, line, place)}: expected an object, got {type(message).__name__}")
        for key in ("role", "content"):
            if key not in message:
                raise InputError(f"{where(uri, line, f'{place}.{key}')}: missing")
            if not isinstance(message[key], str):
                kind = type(message[key]).__name__
                raise InputError(f"{where(uri, line, f'{place}.{key}')}: expected str, got {kind}")
        role = message["role"]
        if role not in ROLES:
            raise InputError(f"{where(uri, line, place + '.role')}: {role!r} is not one of {', '.join(ROLES)}")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def check_turns(value: Any, uri: str, line: int, field: str) -> str | list[dict[str, str]]:
    """A string or a list of messages; neither may be empty."""
    if field != "prompt" and value in ("", []):
        raise InputError(f"{where(uri, line, field)}: empty")
    if isinstance(value, str):
        if not value.strip():
            raise InputError(f"{where(uri, line, field)}: empty or whitespace-only text")
        return value
    if isinstance(value, list):
        return check_messages(value, uri, line, field)
    raise InputError(f"{where(uri, line, field)}: expected str or list of messages, got {type(value).__name__}")


def _same_kind(record: Record, fields: tuple[str, ...], uri: str, line: int) -> None:
    kinds = {field: "str" if isinstance(record[field], str) else "messages" for field in fields}
    if len(set(kinds.values())) > 1:
        described = ", ".join(f"{field}={kind}" for field, kind in kinds.items())
        raise InputError(f"{where(uri, line)}: {', '.join(fields)} must all be strings or all messages ({described})")


def sft_record(record: Record, uri: str, line: int) -> Record:
    """A conversational or prompt/completion record, checked."""
    if "messages" in record:
        messages = check_messages(record["messages"], uri, line, "messages")
        if not any(m["role"] == "assistant" for m in messages):
            raise InputError(f"{where(uri, line, 'messages')}: no assistant message to learn from")
        return {"messages": messages}
    if "prompt" in record or "completion" in record:
        checked = {}
        for field in ("prompt", "completion"):
            if field not in record:
                raise InputError(f"{where(uri, line, field)}: missing")
            checked[field] = check_turns(record[field], uri, line, field)
        _same_kind(checked, ("prompt", "completion"), uri, line)
        return checked
    raise InputError(f"{where(uri, line, 'messages')}: missing (expected 'messages' or 'prompt'/'completion')")


def preference_record(record: Record, uri: str, line: int) -> Record:
    """A prompt/chosen/rejected record, checked; chosen and rejected must differ."""
    checked = {}
    for field in ("prompt", "chosen", "rejected"):
        if field not in record:
            raise InputError(f"{where(uri, line, field)}: missing")
        checked[field] = check_turns(record[field], uri, line, field)
    _same_kind(checked, ("prompt", "chosen", "rejected"), uri, line)
    if checked["chosen"] == checked["rejected"]:
        raise InputError(f"{where(uri, line, 'rejected')}: identical to 'chosen'")
    return checked


def _shape(record: Record) -> str:
    """The record shape: `messages`, or its fields and their kind, e.g. `prompt/completion as str`."""
    if "messages" in record:
        return "messages"
    kind = "str" if isinstance(next(iter(record.values())), str) else "messages"
    return f"{'/'.join(record)} as {kind}"


def load(uris: list[str], kind: str) -> tuple[list[Record], list[str]]:
    """Every record of every file, validated as `kind` ("sft" or "preference"); one shape across all files.
    Beside the records, each one's place (`file:line`), for errors found once the tokenizer is loaded."""
    check = sft_record if kind == "sft" else preference_record
    if not uris:
        raise InputError("--data: no dataset given")
    records: list[Record] = []
    places: list[str] = []
    first_shape = ""
    for uri in uris:
        for line, raw in iter_records(uri):
            record = check(raw, uri, line)
            shape = _shape(record)
            first_shape = first_shape or shape
            if shape != first_shape:
                raise InputError(f"{where(uri, line)}: record has fields {shape}, earlier records {first_shape}")
            records.append(record)
            places.append(where(uri, line))
    return records, places


@dataclass(frozen=True)
class FinetuneInputs:
    """What a finetuning run reads and writes, validated: the model, the data files, their records and where
    each record is (`file:line`)."""

    model: str
    data: list[str]
    records: list[Record]
    places: list[str]
    output: str


def inputs(*, model: str, data: list[str], output: str, kind: Literal["sft", "preference"]) -> FinetuneInputs:
    """Every line of every data file checked, and the model complete, before torch is imported."""
    uris = split_uris(data)
    records, places = load(uris, kind)
    resolved = loading.check(model)  # a registry pointer becomes the version it names
    if not output:
        raise InputError("--output: no path given")
    return FinetuneInputs(model=resolved, data=uris, records=records, places=places, output=output)
