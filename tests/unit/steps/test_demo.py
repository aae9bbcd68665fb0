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


def test_answers_are_worked_column_by_column_and_right(demo_dir):
    assert demo.answer(27, 15) == "27+15: 7+5=12, 2+1+1=04, so 42"
    assert demo.answer(87, 25) == "87+25: 7+5=12, 8+2+1=11, so 112"
    assert demo.answer(21, 13) == "21+13: 1+3=04, 2+1+0=03, so 34"
    for record in records(demo_dir / "sft.jsonl"):
        a, b = map(int, re.fullmatch(r"What is (\d+)\+(\d+)\?", record["messages"][0]["content"]).groups())
        worked = record["messages"][1]["content"]
        assert worked == demo.answer(a, b) and worked.endswith(f", so {a + b}")


def test_rejected_answers_slip_in_one_column_and_carry_the_slip_through(demo_dir):
    step = re.compile(r"(\d+)\+(\d+): (\d)\+(\d)=(\d\d), (\d)\+(\d)\+(\d)=(\d\d), so (\d+)")
    slipped = {"units": 0, "tens": 0}
    for record in records(demo_dir / "dpo.jsonl"):
        chosen, rejected = (record[key][0]["content"] for key in ("chosen", "rejected"))
        a, b, a0, b0, units, a1, b1, carry, tens, total = map(int, step.fullmatch(rejected).groups())
        assert record["prompt"][0]["content"] == demo.question(a, b) and chosen == demo.answer(a, b)
        assert (a0, b0, a1, b1) == (a % 10, b % 10, a // 10, b // 10)
        assert carry == units // 10 and total == 10 * tens + units % 10 != a + b
        units_slip, tens_slip = units - (a0 + b0), tens - (a1 + b1 + carry)
        assert sorted(map(abs, (units_slip, tens_slip))) == [0, 1]
        slipped["units" if units_slip else "tens"] += 1
    assert min(slipped.values()) > 300, slipped


def test_every_held_out_set_is_large_enough(demo_dir):
    for name in ("addition", "choice", "preference"):
        assert len(records(demo_dir / "eval" / f"{name}.jsonl")) >= 200
