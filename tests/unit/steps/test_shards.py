"""`fmops shards`: new shards since the watermark; commit advances it."""

from pathlib import Path

import pytest
from fmops.core.errors import InputError
from fmops.steps.shards import commit, new_shards

from tests.helpers import cli


def incoming(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_text('{"text": "x"}\n')
    return folder


def test_shards_lists_new_ones_and_commit_advances_the_watermark(tmp_path):
    folder, watermark = incoming(tmp_path, "2026-11-01.jsonl", "2026-11-02.jsonl", "notes.md"), tmp_path / "wm.json"
    result = cli("shards", "list", "--incoming", str(folder), "--watermark", str(watermark),
                 "--results-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith(f"2 new shard(s) under {folder}\n")
    first = (tmp_path / "new-shards").read_text().split(",")
    assert [Path(p).name for p in first] == ["2026-11-01.jsonl", "2026-11-02.jsonl"]
    assert (tmp_path / "count").read_text() == "2"
    result = cli("shards", "commit", "--watermark", str(watermark), "--shards", ",".join(first))
    assert result.stdout == f"{watermark}: 2 shard(s) committed, 2 processed in all\n"
    incoming(tmp_path, "2026-11-03.jsonl")
    cli("shards", "list", "--incoming", str(folder), "--watermark", str(watermark), "--results-dir", str(tmp_path))
    assert [Path(p).name for p in (tmp_path / "new-shards").read_text().split(",")] == ["2026-11-03.jsonl"]
    assert (tmp_path / "count").read_text() == "1"


def test_commit_merges_and_nothing_new_is_an_empty_list(tmp_path):
    folder, watermark = incoming(tmp_path, "a.jsonl", "b.txt"), str(tmp_path / "wm.json")
    assert commit(watermark=watermark, shards=[f"{folder}/a.jsonl"]) == 1
    assert commit(watermark=watermark, shards=[f"{folder}/a.jsonl", f"{folder}/b.txt"]) == 2
    assert new_shards(incoming=str(folder), watermark=watermark, results_dir=tmp_path / "r") == []
    assert (tmp_path / "r" / "new-shards").read_text() == "" and (tmp_path / "r" / "count").read_text() == "0"


def test_missing_incoming_prefix_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="incoming data prefix does not exist"):
        new_shards(incoming=str(tmp_path / "nowhere"), watermark=str(tmp_path / "wm.json"))


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "watermark is not JSON"),
    ('{"processed": "a.jsonl"}', "field 'processed': missing or not a list"),
])  # fmt: skip
def test_corrupt_watermark_is_bad_input(tmp_path, text, message):
    (tmp_path / "in").mkdir()
    (tmp_path / "wm.json").write_text(text)
    result = cli("shards", "list", "--incoming", str(tmp_path / "in"), "--watermark", str(tmp_path / "wm.json"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"fmops shards: error: {tmp_path / 'wm.json'}: {message}")
    assert result.stderr.count("\n") == 1


def test_list_without_incoming_is_bad_input(tmp_path):
    result = cli("shards", "list", "--watermark", str(tmp_path / "wm.json"))
    assert (result.returncode, result.stderr) == (2, "fmops shards: error: shards list: --incoming is required\n")
