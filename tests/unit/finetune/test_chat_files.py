"""SFT and DPO data files, JSON lines and parquet, local and on S3 (moto), read with `datasets` into the one
Dataset the trainer gets: only the trainer's fields, and every record's place for later errors (in-process)."""

from __future__ import annotations

import json
from array import array

import pytest
from fmops.core.errors import InputError
from fmops.data.places import Places
from fmops.finetune import chat_data

from tests.helpers import create_bucket
from tests.unit.finetune import chat_families

USER = {"role": "user", "content": "What is 1+2?"}
ANSWER = {"role": "assistant", "content": "3"}
WRONG = {"role": "assistant", "content": "4"}
# Each shape as a data file may hold it (with a field and a message key the trainer never reads) and as the
# trainer must get it.
SHAPES = {
    "messages": ("sft", {"messages": [{**USER, "name": "ann"}, ANSWER], "id": 7}, {"messages": [USER, ANSWER]}),
    "prompt-completion": ("sft", {"prompt": "1+2=", "completion": "3", "id": 7}, {"prompt": "1+2=", "completion": "3"}),
    "preference": (
        "preference",
        {"prompt": [USER], "chosen": [ANSWER], "rejected": [WRONG], "score": 0.5},
        {"prompt": [USER], "chosen": [ANSWER], "rejected": [WRONG]},
    ),
}


def write_parquet(path, records: list[dict]):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(records), path)
    return path


def write_jsonl(path, lines: list[str]):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_parquet_file_becomes_the_trainer_fields_with_row_places(tmp_path, shape):
    kind, stored, trained = SHAPES[shape]
    data = write_parquet(tmp_path / "data.parquet", [stored, stored])
    dataset, places = chat_data.load([str(data)], kind)
    assert dataset.column_names == list(trained)
    assert dataset.to_list() == [trained, trained]
    assert [places[0], places[1]] == [f"{data}:row 1", f"{data}:row 2"]


def test_jsonl_and_parquet_files_become_one_dataset_in_order(tmp_path):
    first = {"messages": [USER, ANSWER]}
    second = {"messages": [USER, {**ANSWER, "content": "three"}]}
    lines = write_jsonl(tmp_path / "a.jsonl", [json.dumps(first), "", json.dumps(second)])  # a blank line 2
    rows = write_parquet(tmp_path / "b.parquet", [second, first])
    dataset, places = chat_data.load([str(lines), str(rows)], "sft")
    assert dataset.to_list() == [first, second, second, first]
    assert [places[index] for index in range(len(places))] == [
        f"{lines}:1",
        f"{lines}:3",
        f"{rows}:row 1",
        f"{rows}:row 2",
    ]


def test_parquet_and_jsonl_on_s3(s3_server, tmp_path):
    import boto3

    create_bucket("fmops-chat-files")
    _, stored, trained = SHAPES["messages"]
    write_parquet(tmp_path / "sft.parquet", [stored] * 3)
    _, pair, wanted = SHAPES["preference"]
    write_jsonl(tmp_path / "dpo.jsonl", [json.dumps(pair)] * 2)
    for name in ("sft.parquet", "dpo.jsonl"):
        boto3.client("s3").upload_file(str(tmp_path / name), "fmops-chat-files", f"data/{name}")
    dataset, places = chat_data.load(["s3://fmops-chat-files/data/sft.parquet"], "sft")
    assert dataset.to_list() == [trained] * 3
    assert places[2] == "s3://fmops-chat-files/data/sft.parquet:row 3"
    dataset, places = chat_data.load(["s3://fmops-chat-files/data/dpo.jsonl"], "preference")
    assert dataset.to_list() == [wanted] * 2
    assert places[1] == "s3://fmops-chat-files/data/dpo.jsonl:2"
    with pytest.raises(InputError) as error:
        chat_data.load(["s3://fmops-chat-files/data/none.parquet"], "sft")
    assert str(error.value) == "s3://fmops-chat-files/data/none.parquet: does not exist"


def test_a_line_separator_inside_a_json_string_does_not_end_the_line(tmp_path):
    """U+2028 is valid inside a JSON string; `datasets` reads it as part of the string, and so must the check
    (str.splitlines would cut the line there and call it malformed)."""
    record = {"messages": [{"role": "user", "content": "one\u2028two"}, ANSWER]}
    data = write_jsonl(tmp_path / "sft.jsonl", [json.dumps(record, ensure_ascii=False)] * 2)
    dataset, places = chat_data.load([str(data)], "sft")
    assert dataset.to_list() == [record, record]
    assert places[1] == f"{data}:2"


def test_a_wrong_file_type_is_refused_before_any_file_is_read(tmp_path):
    malformed = write_jsonl(tmp_path / "a.jsonl", ["{"])
    other = tmp_path / "b.csv"
    other.write_text("prompt,completion\n")
    with pytest.raises(InputError) as error:
        chat_data.load([str(malformed), str(other)], "sft")
    assert str(error.value) == f"{other}: unsupported file type '.csv', expected one of .jsonl, .json, .parquet"


def test_the_template_refusing_a_parquet_row_names_that_row(tmp_path):
    """Places reach the errors found once the tokenizer is loaded (assistant_mask), as `file:row N`."""
    pytest.importorskip("trl")
    from fmops.finetune import assistant_mask

    good, twice_the_user = {"messages": [USER, ANSWER]}, {"messages": [USER, USER, ANSWER]}
    data = write_parquet(tmp_path / "sft.parquet", [good, twice_the_user])
    dataset, places = chat_data.load([str(data)], "sft")
    with pytest.raises(InputError) as error:
        assistant_mask.prepare(dataset, places, chat_families.mistral())  # roles must alternate
    assert str(error.value).startswith(f"{data}:row 2: the chat template refuses this conversation: ")


def test_places_count_lines_and_rows_per_file():
    places = Places()
    places.add_lines("a.jsonl", array("L", [2, 5]))
    places.add_rows("b.parquet", 2)
    assert len(places) == 4
    assert [places[index] for index in range(4)] == ["a.jsonl:2", "a.jsonl:5", "b.parquet:row 1", "b.parquet:row 2"]
    with pytest.raises(IndexError):
        places[4]
