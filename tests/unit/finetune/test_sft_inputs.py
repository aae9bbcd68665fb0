"""`fmops sft` refuses bad input with one line and exit status 2, marking nothing (in-process; that it happens
before torch is imported is tests/cli/test_training.py's)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import cli

GOOD = {"messages": [{"role": "user", "content": "What is 1+2?"}, {"role": "assistant", "content": "3"}]}


def write_lines(path, *lines: str):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def write_parquet(path, *records: dict):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(list(records)), path)
    return path


def sft_error(tmp_path, data: str, model: str | None = None) -> str:
    model_dir = tmp_path / "model"
    model_dir.mkdir(exist_ok=True)
    (model_dir / "config.json").write_text("{}")
    result = cli("sft", "--model", model or str(model_dir), "--data", data, "--output", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()  # nothing written, nothing marked complete
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"text": "hi"}, "field 'messages': missing (expected 'messages' or 'prompt'/'completion')"),
        ({"messages": []}, "field 'messages': empty list of messages"),
        ({"messages": "hi"}, "field 'messages': expected a list of messages, got str"),
        (
            {"messages": [{"role": "robot", "content": "x"}]},
            "field 'messages[0].role': 'robot' is not one of system, user, assistant",
        ),
        ({"messages": [{"role": "user", "content": 7}]}, "field 'messages[0].content': expected str, got int"),
        ({"messages": [{"content": "x"}]}, "field 'messages[0].role': missing"),
        ({"messages": [{"role": "user", "content": "x"}]}, "field 'messages': no assistant message to learn from"),
        ({"prompt": "What is 1+2?"}, "field 'completion': missing"),
        ({"prompt": "What is 1+2?", "completion": ""}, "field 'completion': empty"),
        ({"prompt": "What is 1+2?", "completion": 3}, "field 'completion': expected str or list of messages, got int"),
    ],
)
def test_bad_record_on_line_two_is_refused(tmp_path, record, problem):
    data = write_lines(tmp_path / "sft.jsonl", json.dumps(GOOD), json.dumps(record), json.dumps(GOOD))
    assert sft_error(tmp_path, str(data)) == f"fmops sft: error: {data}:2: {problem}"


def test_malformed_json_line_is_not_skipped(tmp_path):
    data = write_lines(tmp_path / "sft.jsonl", json.dumps(GOOD), json.dumps(GOOD), '{"messages": [', json.dumps(GOOD))
    expected = f"fmops sft: error: {data}:3: malformed JSON (Expecting value at column 15)"
    assert sft_error(tmp_path, str(data)) == expected


def test_empty_file(tmp_path):
    data = write_lines(tmp_path / "sft.jsonl", "", "  ")
    assert sft_error(tmp_path, str(data)) == f"fmops sft: error: {data}: file is empty"


@pytest.mark.parametrize("name", ["nope.jsonl", "nope.parquet"])
def test_missing_data_path(tmp_path, name):
    missing = tmp_path / name
    assert sft_error(tmp_path, str(missing)) == f"fmops sft: error: {missing}: does not exist"


def test_second_of_two_files_is_checked_too(tmp_path):
    good = write_lines(tmp_path / "a.jsonl", json.dumps(GOOD))
    bad = write_lines(tmp_path / "b.jsonl", json.dumps({"messages": []}))
    expected = f"fmops sft: error: {bad}:1: field 'messages': empty list of messages"
    assert sft_error(tmp_path, f"{good},{bad}") == expected


def test_mixed_record_shapes_are_refused(tmp_path):
    data = write_lines(tmp_path / "sft.jsonl", json.dumps(GOOD), json.dumps({"prompt": "a", "completion": "b"}))
    expected = f"fmops sft: error: {data}:2: record has fields prompt/completion as str, earlier records messages"
    assert sft_error(tmp_path, str(data)) == expected


def test_missing_model(tmp_path):
    data = write_lines(tmp_path / "sft.jsonl", json.dumps(GOOD))
    missing = tmp_path / "no-model"
    message = sft_error(tmp_path, str(data), model=str(missing))
    assert message == f"fmops sft: error: {missing}: model path does not exist"


def test_incomplete_model_is_refused(tmp_path):
    data = write_lines(tmp_path / "sft.jsonl", json.dumps(GOOD))
    unfinished = tmp_path / "pretrain"
    (unfinished / "checkpoints").mkdir(parents=True)
    message = sft_error(tmp_path, str(data), model=str(unfinished))
    assert message == (
        f"fmops sft: error: {unfinished}: incomplete fmops output (no manifest.json); "
        "the stage that writes it did not finish"
    )


def test_unknown_config_field(tmp_path):
    data = write_lines(tmp_path / "sft.jsonl", json.dumps(GOOD))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    result = cli(
        "sft",
        "--model",
        str(tmp_path / "model"),
        "--data",
        str(data),
        "--output",
        str(tmp_path / "o"),
        "--set",
        "lora_rank=8",
    )
    assert result.returncode == 2
    # neither an fmops field nor one of TRL's SFTConfig (checking that imports TRL, so data came first)
    assert result.stderr == "fmops sft: error: --set lora_rank=8: field 'lora_rank': unknown field\n"


def test_fields_fmops_sets_itself_are_refused(tmp_path):
    data = write_lines(tmp_path / "sft.jsonl", json.dumps(GOOD))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    result = cli(
        "sft",
        "--model",
        str(tmp_path / "model"),
        "--data",
        str(data),
        "--output",
        str(tmp_path / "o"),
        "--set",
        "output_dir=/x",
    )
    assert result.returncode == 2
    assert result.stderr == "fmops sft: error: --set output_dir=/x: field 'output_dir': set by fmops (--output)\n"


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"text": "hi"}, "field 'messages': missing (expected 'messages' or 'prompt'/'completion')"),
        ({"messages": []}, "field 'messages': empty list of messages"),
        (
            {"messages": [{"role": "robot", "content": "x"}]},
            "field 'messages[0].role': 'robot' is not one of system, user, assistant",
        ),
        ({"messages": [{"role": "user", "content": None}]}, "field 'messages[0].content': expected str, got NoneType"),
        ({"messages": [{"role": "user", "content": "x"}]}, "field 'messages': no assistant message to learn from"),
    ],
)
def test_bad_parquet_row_names_file_and_row(tmp_path, record, problem):
    data = write_parquet(tmp_path / "sft.parquet", GOOD, GOOD, record)
    assert sft_error(tmp_path, str(data)) == f"fmops sft: error: {data}:row 3: {problem}"


def test_a_null_in_a_parquet_row_is_a_missing_field(tmp_path):
    data = write_parquet(tmp_path / "sft.parquet", {"prompt": "1+2=", "completion": "3"}, {"prompt": "1+3="})
    assert sft_error(tmp_path, str(data)) == f"fmops sft: error: {data}:row 2: field 'completion': missing"


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda data: data[: len(data) // 2], "Parquet magic bytes not found in footer"),  # truncated upload
        (lambda data: data[:4] + b"\xff" * 64 + data[68:], "Couldn't deserialize thrift"),  # first page header
    ],
    ids=["truncated", "corrupt-page"],
)
def test_unreadable_parquet_is_one_line_naming_the_file(tmp_path, damage, problem):
    data = write_parquet(tmp_path / "sft.parquet", *[GOOD] * 20)
    data.write_bytes(damage(data.read_bytes()))
    assert sft_error(tmp_path, str(data)).startswith(f"fmops sft: error: {data}: cannot be read as parquet: {problem}")


def test_an_empty_parquet_file(tmp_path):
    data = write_parquet(tmp_path / "sft.parquet")
    assert sft_error(tmp_path, str(data)) == f"fmops sft: error: {data}: file is empty"


def test_other_file_types_are_refused(tmp_path):
    data = write_lines(tmp_path / "sft.csv", "prompt,completion")
    expected = f"fmops sft: error: {data}: unsupported file type '.csv', expected one of .jsonl, .json, .parquet"
    assert sft_error(tmp_path, str(data)) == expected


def test_mixed_shapes_across_jsonl_and_parquet_are_refused(tmp_path):
    lines = write_lines(tmp_path / "a.jsonl", json.dumps(GOOD))
    rows = write_parquet(tmp_path / "b.parquet", {"prompt": "a", "completion": "b"})
    expected = f"fmops sft: error: {rows}:row 1: record has fields prompt/completion as str, earlier records messages"
    assert sft_error(tmp_path, f"{lines},{rows}") == expected
