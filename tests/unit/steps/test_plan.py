"""`fmops plan`: which model each phase starts from, whatever is skipped."""

import json

import pytest
from fmops.core.errors import InputError
from fmops.steps.plan import plan

from tests.helpers import cli

ALL = {"pretrain": True, "sft": True, "dpo": True}


def test_full_chain():
    uris = plan(run_root="s3://b/runs/r", base_model="tiny", runs=ALL)
    assert uris["pretrain-model"] == "tiny"
    assert uris["sft-model"] == "s3://b/runs/r/pretrain"
    assert uris["dpo-model"] == "s3://b/runs/r/sft"
    assert uris["final-model"] == "s3://b/runs/r/dpo"
    assert uris["sft-eval-baseline"] == "s3://b/runs/r/eval-pretrain"
    assert uris["final-eval-baseline"] == "s3://b/runs/r/eval-sft"


def test_skipping_pretrain_starts_sft_from_the_base_model():
    uris = plan(run_root="/runs/r", base_model="s3://b/base", runs={"pretrain": False, "sft": True, "dpo": True})
    assert uris["sft-model"] == "s3://b/base"
    assert uris["sft-eval-baseline"] == ""
    assert uris["final-eval-baseline"] == "/runs/r/eval-sft"


def test_skipping_dpo_makes_sft_final_compared_with_pretrain():
    uris = plan(run_root="/runs/r", base_model="tiny", runs={"pretrain": True, "sft": True, "dpo": False})
    assert uris["final-model"] == "/runs/r/sft"
    assert uris["final-eval-baseline"] == "/runs/r/eval-pretrain"


def test_one_phase_has_no_baseline_to_compare_with():
    uris = plan(run_root="/runs/r", base_model="tiny", runs={"pretrain": False, "sft": True, "dpo": False})
    assert (uris["final-model"], uris["final-eval-baseline"]) == ("/runs/r/sft", "")


@pytest.mark.parametrize(
    ("base", "runs", "message"),
    [
        ("tiny", {"pretrain": False, "sft": False, "dpo": False}, "every training phase is skipped"),
        ("", {"pretrain": False, "sft": True, "dpo": True}, "--base-model: required when pretraining is skipped"),
    ],
)
def test_impossible_plans_are_refused(base, runs, message):
    with pytest.raises(InputError, match=message):
        plan(run_root="/r", base_model=base, runs=runs)


def test_results_dir_gets_one_file_per_output_and_plan_json(tmp_path):
    uris = plan(run_root="/r", base_model="tiny", runs=ALL, results_dir=tmp_path)
    assert json.loads((tmp_path / "plan.json").read_text()) == uris
    assert {path.name for path in tmp_path.iterdir()} == {*uris, "plan.json"}
    assert all((tmp_path / name).read_text() == value for name, value in uris.items())


def test_cli_writes_one_file_per_output(tmp_path):
    result = cli(
        "plan", "--run-root", "/r", "--base-model", "tiny", "--run-dpo", "false", "--results-dir", str(tmp_path)
    )
    assert result.returncode == 0
    assert (tmp_path / "final-model").read_text() == "/r/sft"
    assert json.loads((tmp_path / "plan.json").read_text())["final-model"] == "/r/sft"
    assert json.loads(result.stdout)["final-model"] == "/r/sft"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run-sft", "yes"], "fmops plan: error: --run-sft 'yes': expected true or false"),
        (["--run-pretrain", "false"], "fmops plan: error: --base-model: required when pretraining is skipped"),
        (
            ["--run-pretrain", "false", "--run-sft", "false", "--run-dpo", "false", "--base-model", "tiny"],
            "fmops plan: error: plan: every training phase is skipped; nothing to evaluate or deploy",
        ),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, args, message):
    result = cli("plan", "--run-root", "/r", *args, "--results-dir", str(tmp_path / "r"))
    assert (result.returncode, result.stderr.strip()) == (2, message)
    assert not (tmp_path / "r").exists()
