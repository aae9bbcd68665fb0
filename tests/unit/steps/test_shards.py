"""`fmops shards`: new shards by content, replay drawn from earlier promoted cycles, one record per cycle."""

from pathlib import Path

import pytest
from fmops.core.errors import InputError
from fmops.steps.shards import commit, plan_cycle, records

from tests.helpers import cli


def land(folder: Path, **shards: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in shards.items():
        (folder / name.replace("_", ".")).write_text(f'{{"text": "{text}"}}\n')
    return folder


def names(uris) -> list[str]:
    return [Path(uri).name for uri in uris]


def test_list_writes_new_shards_and_replay_and_commit_records_the_cycle(tmp_path):
    folder = land(tmp_path / "in", a_jsonl="a", b_txt="b", notes_md="x")
    watermark, out = tmp_path / "wm", tmp_path / "r"
    result = cli(
        "shards",
        "list",
        "--incoming",
        str(folder),
        "--watermark",
        str(watermark),
        "--cycle",
        "c1",
        "--fixed-replay",
        str(folder / "b.txt"),
        "--replay-ratio",
        "0.25",
        "--results-dir",
        str(out),
    )
    assert result.returncode == 0 and result.stdout.startswith(f"2 new shard(s) under {folder}; 1 replayed\n")
    assert names((out / "new-shards").read_text().split(",")) == ["a.jsonl", "b.txt"]
    assert [(out / n).read_text() for n in ("count", "replay", "replay-count")] == ["2", str(folder / "b.txt"), "1"]
    assert (out / "replay-ratio").read_text() == "0.25"
    assert records(str(watermark)) == []  # pending until the cycle ends
    result = cli("shards", "commit", "--watermark", str(watermark), "--cycle", "c1", "--promoted", "true")
    assert result.stdout == f"{watermark}: cycle c1 recorded with 2 shard(s), promoted\n"
    assert [r["cycle"] for r in records(str(watermark))] == ["c1"]
    assert not (watermark / "pending" / "c1.json").exists()


def test_a_shard_rewritten_under_its_name_is_new_and_not_replayed(tmp_path):
    folder, watermark = land(tmp_path / "in", a_jsonl="a", b_jsonl="b"), str(tmp_path / "wm")
    plan_cycle(incoming=str(folder), watermark=watermark, cycle="c1")
    commit(watermark=watermark, cycle="c1", promoted=True)
    assert plan_cycle(incoming=str(folder), watermark=watermark, cycle="c2").new == []
    land(folder, a_jsonl="a, rewritten")
    second = plan_cycle(incoming=str(folder), watermark=watermark, cycle="c2")
    assert names(s["uri"] for s in second.new) == ["a.jsonl"]
    assert names(second.replay) == ["b.jsonl"]  # a's earlier content is gone: only b replays


def test_replay_draws_only_from_promoted_cycles_deterministically(tmp_path):
    watermark = str(tmp_path / "wm")
    for cycle, promoted in (("c1", True), ("c2", False), ("c3", True)):
        folder = land(tmp_path / cycle, **{f"{cycle}-{i}_jsonl": f"{cycle} {i}" for i in range(3)})
        plan_cycle(incoming=str(folder), watermark=watermark, cycle=cycle)
        commit(watermark=watermark, cycle=cycle, promoted=promoted)
    folder = land(tmp_path / "c4", new_jsonl="new")
    drawn = plan_cycle(incoming=str(folder), watermark=watermark, cycle="c4", replay_shards=4).replay
    assert len(drawn) == 4 and not any("c2-" in uri for uri in drawn)
    assert drawn == plan_cycle(incoming=str(folder), watermark=watermark, cycle="c4", replay_shards=4).replay
    every = plan_cycle(incoming=str(folder), watermark=watermark, cycle="c4", replay_shards=100).replay
    assert names(every) == [f"{c}-{i}.jsonl" for c in ("c1", "c3") for i in range(3)]


def test_a_rejected_cycle_is_not_trained_on_again(tmp_path):
    folder, watermark = land(tmp_path / "in", noise_jsonl="zq xv"), str(tmp_path / "wm")
    plan_cycle(incoming=str(folder), watermark=watermark, cycle="c1")
    assert commit(watermark=watermark, cycle="c1", promoted=False)["promoted"] is False
    plan_cycle(incoming=str(folder), watermark=watermark, cycle="c2", replay_ratio="0.25", results_dir=tmp_path / "r")
    assert [(tmp_path / "r" / name).read_text() for name in ("count", "replay", "replay-ratio")] == ["0", "", "0"]
    assert commit(watermark=watermark, cycle="c1", promoted=False)["cycle"] == "c1"  # a retried commit


def test_two_cycles_committing_never_lose_an_entry(tmp_path):
    watermark = str(tmp_path / "wm")
    for cycle in ("c1", "c2"):  # both listed before either commits, as two overlapping runs would
        plan_cycle(incoming=str(land(tmp_path / cycle, **{f"{cycle}_jsonl": cycle})), watermark=watermark, cycle=cycle)
    commit(watermark=watermark, cycle="c2", promoted=True)
    commit(watermark=watermark, cycle="c1", promoted=True)
    assert sorted(names(s["uri"] for r in records(watermark) for s in r["shards"])) == ["c1.jsonl", "c2.jsonl"]


def test_shards_on_s3_are_known_by_their_etag(tmp_path, s3_server):
    from fmops.core import storage

    from tests.helpers import create_bucket

    create_bucket("fmops-shards")
    storage.atomic_write_text("s3://fmops-shards/in/a.jsonl", '{"text": "a"}\n')
    first = plan_cycle(incoming="s3://fmops-shards/in", watermark="s3://fmops-shards/wm", cycle="c1")
    assert first.new[0]["checksum"].startswith("etag:") and first.new[0]["size"] == 14
    commit(watermark="s3://fmops-shards/wm", cycle="c1", promoted=True)
    assert plan_cycle(incoming="s3://fmops-shards/in", watermark="s3://fmops-shards/wm", cycle="c2").new == []
    storage.atomic_write_text("s3://fmops-shards/in/a.jsonl", '{"text": "b"}\n')  # same size, new content
    assert len(plan_cycle(incoming="s3://fmops-shards/in", watermark="s3://fmops-shards/wm", cycle="c2").new) == 1


def test_missing_incoming_prefix_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="incoming data prefix does not exist"):
        plan_cycle(incoming=str(tmp_path / "nowhere"), watermark=str(tmp_path / "wm"), cycle="c1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "watermark record is not JSON"),
        ('{"shards": "a.jsonl"}', "field 'shards': missing or not a list"),
        ('{"shards": ["a.jsonl"]}', "field 'shards[0]': expected {uri, size, checksum}"),
    ],
)
def test_corrupt_record_is_bad_input(tmp_path, text, message):
    (tmp_path / "in").mkdir()
    (tmp_path / "wm").mkdir()
    (tmp_path / "wm" / "c0.json").write_text(text)
    result = cli(
        "shards", "list", "--incoming", str(tmp_path / "in"), "--watermark", str(tmp_path / "wm"), "--cycle", "c1"
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"fmops shards: error: {tmp_path / 'wm' / 'c0.json'}: {message}")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "--cycle", "c1"], "shards list: --incoming is required"),
        (["commit", "--cycle", "c1"], "shards commit: --promoted true|false is required"),
        (["commit", "--cycle", "c9", "--promoted", "true"], "no pending record for cycle 'c9'"),
        (["list", "--cycle", "a/b", "--incoming", "."], "--cycle 'a/b': expected a name without '/'"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, args, message):
    result = cli("shards", *args, "--watermark", str(tmp_path / "wm"))
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1
