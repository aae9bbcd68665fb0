"""curate's config, input checks, decontamination n-grams and history handling: in-process, no datatrove run."""

import json

import pytest
from fmops.cli import main
from fmops.core import config as config_loading
from fmops.core.errors import InputError
from fmops.curate import decontaminate, history, shards
from fmops.curate.config import CurateConfig


def test_demo_recipe_turns_off_the_prose_filters_and_keeps_the_rest():
    demo = config_loading.load(CurateConfig, "curate", "demo")
    base = config_loading.load(CurateConfig, "curate", "base")
    assert not (demo.gopher_quality or demo.gopher_repetition or demo.c4_quality)
    assert demo.exact_dedup and demo.near_dedup and demo.pii and demo.decontaminate
    assert base.gopher_quality and base.c4_quality and base == CurateConfig()


def test_an_unknown_config_key_is_one_line_naming_it(tmp_path, capsys):
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    code = main(["curate", "--data", str(tmp_path / "a.jsonl"), "--output", str(tmp_path / "o"), "--set", "bands=3"])
    assert code == 2
    assert "field 'bands': unknown field" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "ok"}\n{"txt": "no"}\n', "a.jsonl:2: field 'text'"),
        ('{"text": "ok"}\nnot json\n', "a.jsonl:2: malformed JSON"),
        ("", "a.jsonl: file is empty"),
    ],
)
def test_a_bad_shard_is_refused_naming_file_and_line(tmp_path, capsys, content, message):
    (tmp_path / "a.jsonl").write_text(content)
    code = main(["curate", "--data", str(tmp_path / "a.jsonl"), "--output", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_data_expands_directories_and_refuses_unknown_formats(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b.txt").write_text("doc\n")
    (tmp_path / "d" / "a.jsonl").write_text('{"text": "doc"}\n')
    (tmp_path / "d" / "notes.md").write_text("skip")
    assert [p.rsplit("/", 1)[1] for p in shards.expand([str(tmp_path / "d")])] == ["a.jsonl", "b.txt"]
    with pytest.raises(InputError, match="notes.md: unknown data format"):
        shards.expand([str(tmp_path / "d" / "notes.md")])
    assert shards.groups(["x"] * 100, 0) == shards.MAX_GROUPS and shards.groups(["x"] * 3, 0) == 3


def test_ngram_overlap_and_whole_short_items_count_as_contamination():
    index = decontaminate.EvalIndex(n=4, min_tokens=3)
    index.add("the quick brown fox jumps over the lazy dog")
    index.add("What is 22+13?")  # 6 tokens: its 4-grams
    index.add("22+13=35")  # 5 tokens >= 4
    index.add("yes")  # below min_tokens: never matched
    assert index.contaminated("A text where THE QUICK brown fox ran.")
    assert not index.contaminated("the quick red fox jumps")
    assert index.contaminated("sums:\n22 + 13 = 35")
    assert not index.contaminated("22 13 35")  # the operators are tokens: numbers side by side do not match
    assert not index.contaminated("yes, yes and yes")


def test_an_item_shorter_than_n_counts_only_when_it_occurs_whole():
    index = decontaminate.EvalIndex(n=13, min_tokens=5)
    index.add("22+13=35")
    assert index.short == {5: {("22", "+", "13", "=", "35")}} and not index.ngrams
    assert index.contaminated("x 22+13=35 y")
    assert not index.contaminated("22+13=36")


def test_task_files_default_to_the_demo_tasks_and_bad_lines_are_refused(tmp_path):
    assert {p.rsplit("/", 1)[1] for p in decontaminate.task_files([])} == {
        "addition.jsonl",
        "choice.jsonl",
        "preference.jsonl",
    }
    (tmp_path / "t.jsonl").write_text('{"q": "a"}\n[1]\n')
    with pytest.raises(InputError, match="t.jsonl:2: expected a JSON object"):
        decontaminate.build_index(decontaminate.task_files([str(tmp_path)]), 13)
    with pytest.raises(InputError, match="does not exist"):
        decontaminate.task_files([str(tmp_path / "none")])


def test_a_missing_history_is_empty_and_one_made_with_other_settings_is_refused(tmp_path):
    config = CurateConfig()
    assert history.check(str(tmp_path / "new"), config) is False
    assert history.check("", config) is False
    (tmp_path / "h").mkdir()
    (tmp_path / "h" / history.SETTINGS).write_text(json.dumps(history.minhash_settings(config)))
    assert history.check(str(tmp_path / "h"), config) is False  # settings but no cycle yet
    (tmp_path / "h" / "cycles").mkdir()
    (tmp_path / "h" / "cycles" / "c1.json").write_text("{}")
    assert history.check(str(tmp_path / "h"), config) is True and history.cycles(str(tmp_path / "h")) == ["c1"]
    with pytest.raises(InputError, match="field 'n_grams': history made with 3, this run uses 5"):
        history.check(str(tmp_path / "h"), CurateConfig(minhash_ngrams=5))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x").write_text("")
    with pytest.raises(InputError, match="not a curate history"):
        history.check(str(tmp_path / "junk"), config)


def test_the_same_output_always_gets_the_same_history_name():
    assert history.cycle_name("s3://b/runs/c1/curated") == history.cycle_name("s3://b/runs/c1/curated/")
    assert history.cycle_name("s3://b/runs/c1/curated") != history.cycle_name("s3://b/runs/c2/curated")


def test_record_history_needs_a_complete_output(tmp_path, capsys):
    (tmp_path / "a.jsonl").write_text('{"text": "doc"}\n')
    args = ["curate", "--data", str(tmp_path / "a.jsonl"), "--output", str(tmp_path / "o"), "--phase", "join"]
    assert main(args) == 2
    assert "no plan; run `fmops curate --phase plan` first" in capsys.readouterr().err
