"""The demo data: shipped files are exactly what the generator writes; held-out problems stay held out."""

import json
import re

from fmops.data import demo

from tests.helpers import cli


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_shipped_files_are_what_fmops_demo_writes(tmp_path, demo_dir):
    result = cli("demo", "--output", str(tmp_path))
    assert result.returncode == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl")) == sorted(demo.FILES)
    for name in demo.FILES:
        assert (tmp_path / name).read_bytes() == (demo_dir / name).read_bytes(), name
        assert f"{tmp_path}/{name}  {demo.FILES[name]}" in result.stdout.splitlines()


def test_another_seed_gives_other_data_the_same_seed_the_same(tmp_path):
    assert demo.generate(7) == demo.generate(7)
    assert demo.generate(7)["sft.jsonl"] != demo.generate()["sft.jsonl"]
    written = demo.write(str(tmp_path), seed=7)
    assert sorted(written) == sorted(demo.FILES)
    assert records(tmp_path / "sft.jsonl") == demo.generate(7)["sft.jsonl"]


def test_held_out_problems_never_appear_in_training_files(demo_dir):
    held_out = {r["question"] for r in records(demo_dir / "eval" / "addition.jsonl")}
    assert len(held_out) >= 200
    pretrain = "\n".join(r["text"] for r in records(demo_dir / "pretrain.jsonl"))
    trained = {f"What is {a}+{b}?" for a, b in re.findall(r"(\d+)\+(\d+)=", pretrain)}
    trained |= {r["messages"][0]["content"] for r in records(demo_dir / "sft.jsonl")}
    trained |= {r["prompt"][0]["content"] for r in records(demo_dir / "dpo.jsonl")}
    assert trained and not held_out & trained


def test_rejected_answers_are_near_misses(demo_dir):
    for record in records(demo_dir / "dpo.jsonl"):
        chosen, rejected = (record[key][0]["content"].split("=") for key in ("chosen", "rejected"))
        assert chosen[0] == rejected[0]
        assert record["prompt"][0]["content"] == demo.question(*map(int, chosen[0].split("+")))
        chosen, rejected = chosen[1], rejected[1]
        assert len(chosen) == len(rejected)
        assert sum(x != y for x, y in zip(chosen, rejected, strict=True)) == 1
        assert sum(abs(int(x) - int(y)) for x, y in zip(chosen, rejected, strict=True)) == 1


def test_every_held_out_set_is_large_enough(demo_dir):
    for name in ("addition", "choice", "preference"):
        assert len(records(demo_dir / "eval" / f"{name}.jsonl")) >= 200
