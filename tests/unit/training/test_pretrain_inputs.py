"""`fmops pretrain` refuses each bad input with one line naming file/line/problem, exit 2, before torch."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.helpers import cli

GOOD = '{"text": "12+34=46"}\n'
# name -> (file name, bytes, expected message after "<path>")
BAD_JSONL = {
    "missing field": ("d.jsonl", GOOD + '{"txt": "1+1=2"}\n', ":2: field 'text': missing"),
    "wrong type": ("d.jsonl", GOOD + '{"text": 12}\n', ":2: field 'text': expected str, got int"),
    "empty text": ("d.jsonl", GOOD + '{"text": ""}\n', ":2: field 'text': empty or whitespace-only text"),
    "whitespace text": ("d.jsonl", GOOD + '{"text": " \\n\\t"}\n', ":2: field 'text': empty or whitespace-only text"),
    "malformed line among good": (
        "d.jsonl",
        GOOD + '{"text": "1+2=3"\n' + GOOD,
        ":2: malformed JSON (Expecting ',' delimiter at column 17)",
    ),
    "not an object": ("d.jsonl", GOOD + '["1+1=2"]\n', ":2: expected a JSON object, got list"),
    "empty file": ("d.jsonl", "", ": file is empty"),
    "blank-only file": ("d.jsonl", "\n  \n", ": file is empty"),
    "empty text file": ("d.txt", "\n\n", ": file is empty"),
    "unknown format": (
        "d.csv",
        "text\n1+1=2\n",
        ": unknown data format (expected one of .json, .jsonl, .parquet, .text, .txt)",
    ),
}


def pretrain(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = cli("pretrain", "--model", "tiny", "--output", str(tmp_path / "out"), *args)
    return result.returncode, result.stderr


def assert_refused(code: int, err: str, message: str, tmp_path: Path) -> None:
    assert code == 2
    assert err == f"fmops pretrain: error: {message}\n"
    assert not (tmp_path / "out").exists()  # nothing written, nothing marked complete


@pytest.mark.parametrize("case", sorted(BAD_JSONL))
def test_bad_data_file_is_refused_with_file_and_line(case, tmp_path):
    name, text, expected = BAD_JSONL[case]
    path = tmp_path / name
    path.write_text(text)
    code, err = pretrain(tmp_path, "--data", str(path))
    assert_refused(code, err, f"{path}{expected}", tmp_path)


def test_undecodable_bytes(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(GOOD.encode() + b'{"text": "caf\xe9"}\n')
    code, err = pretrain(tmp_path, "--data", str(path))
    assert_refused(code, err, f"{path}:2: bytes are not valid UTF-8", tmp_path)


def test_missing_path_in_a_comma_list(tmp_path, demo_dir):
    missing = tmp_path / "nope.jsonl"
    code, err = pretrain(tmp_path, "--data", f"{demo_dir / 'pretrain.jsonl'},{missing}")
    assert_refused(code, err, f"{missing}: does not exist", tmp_path)


def test_bad_replay_file_is_named(tmp_path, demo_dir):
    replay = tmp_path / "replay.jsonl"
    replay.write_text(GOOD + '{"text": null}\n')
    args = ["--data", str(demo_dir / "pretrain.jsonl"), "--replay", str(replay), "--replay-ratio", "0.25"]
    code, err = pretrain(tmp_path, *args)
    assert_refused(code, err, f"{replay}:2: field 'text': expected str, got NoneType", tmp_path)


def test_replay_ratio_needs_replay(tmp_path, demo_dir):
    code, err = pretrain(tmp_path, "--data", str(demo_dir / "pretrain.jsonl"), "--replay-ratio", "0.5", "--replay", "")
    assert_refused(code, err, "--replay-ratio 0.5: needs --replay", tmp_path)


def test_bad_parquet_rows_and_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    cases = {
        "row.parquet": (pa.table({"text": ["1+1=2", "   "]}), ":2: field 'text': empty or whitespace-only text"),
        "col.parquet": (pa.table({"body": ["1+1=2"]}), ": field 'text': missing column"),
        "type.parquet": (pa.table({"text": [1, 2]}), ": field 'text': expected string column, got int64"),
    }
    for name, (table, expected) in cases.items():
        pq.write_table(table, tmp_path / name)
        code, err = pretrain(tmp_path, "--data", str(tmp_path / name))
        assert_refused(code, err, f"{tmp_path / name}{expected}", tmp_path)


def test_unknown_config_field(tmp_path, demo_dir):
    code, err = pretrain(tmp_path, "--data", str(demo_dir / "pretrain.jsonl"), "--set", "stepz=3")
    assert_refused(code, err, "--set stepz=3: field 'stepz': unknown field", tmp_path)


def test_incomplete_model_output_is_refused(tmp_path, demo_dir):
    half = tmp_path / "half"
    (half / "checkpoints").mkdir(parents=True)
    result = cli(
        "pretrain", "--model", str(half), "--data", str(demo_dir / "pretrain.jsonl"), "--output", str(tmp_path / "out")
    )
    code, err = result.returncode, result.stderr
    assert_refused(
        code,
        err,
        f"{half}: incomplete fmops output (no manifest.json); the stage that writes it did not finish",
        tmp_path,
    )


def test_unigram_entropy_in_nats():
    from fmops.training.packing import unigram_entropy

    assert unigram_entropy([1, 2, 3, 4]) == pytest.approx(math.log(4))
    assert unigram_entropy([7, 7, 7]) == 0.0


def test_a_document_line_over_the_cap_is_one_line_before_it_is_read_whole(tmp_path):
    from fmops.core.errors import InputError
    from fmops.training import text_data

    data = tmp_path / "huge.jsonl"
    data.write_text('{"text": "' + "x" * (text_data.MAX_DOCUMENT_BYTES + 10) + '"}\n')
    with pytest.raises(InputError, match=r"huge.jsonl:1: record of over \d+ bytes exceeds the limit of 4 MiB"):
        list(text_data.iter_documents(str(data)))
