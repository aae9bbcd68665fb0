"""`fmops plan`: which model each phase starts from, whatever is skipped."""

import json

import pytest
from fmops.core.errors import InputError
from fmops.steps.plan import plan

from tests.helpers import fmops

ALL = {"pretrain": True, "sft": True, "dpo": True}


def test_full_chain():
    uris = plan("s3://b/runs/r", "tiny", ALL)
    assert uris["pretrain-model"] == "tiny"
    assert uris["sft-model"] == "s3://b/runs/r/pretrain"
    assert uris["dpo-model"] == "s3://b/runs/r/sft"
    assert uris["final-model"] == "s3://b/runs/r/dpo"
    assert uris["sft-eval-baseline"] == "s3://b/runs/r/eval-pretrain"
    assert uris["final-eval-baseline"] == "s3://b/runs/r/eval-sft"


def test_skipping_pretrain_starts_sft_from_the_base_model():
    uris = plan("/runs/r", "s3://b/base", {"pretrain": False, "sft": True, "dpo": True})
    assert uris["sft-model"] == "s3://b/base"
    assert uris["sft-eval-baseline"] == ""
    assert uris["final-eval-baseline"] == "/runs/r/eval-sft"


def test_skipping_dpo_makes_sft_final_compared_with_pretrain():
    uris = plan("/runs/r", "tiny", {"pretrain": True, "sft": True, "dpo": False})
    assert uris["final-model"] == "/runs/r/sft"
    assert uris["final-eval-baseline"] == "/runs/r/eval-pretrain"


@pytest.mark.parametrize(("base", "runs", "message"), [
    ("tiny", {"pretrain": False, "sft": False, "dpo": False}, "every training phase is skipped"),
    ("", {"pretrain": False, "sft": True, "dpo": True}, "--base-model: required when pretraining is skipped"),
])  # fmt: skip
def test_impossible_plans_are_refused(base, runs, message):
    with pytest.raises(InputError, match=message):
        plan("/r", base, runs)


def test_cli_writes_one_file_per_output(tmp_path):
    fmops("plan", "--run-root", "/r", "--base-model", "tiny", "--run-dpo", "false", "--results-dir", str(tmp_path))
    assert (tmp_path / "final-model").read_text() == "/r/sft"
    assert json.loads((tmp_path / "plan.json").read_text())["final-model"] == "/r/sft"


def test_cli_bad_flag_value():
    result = fmops("plan", "--run-root", "/r", "--run-sft", "yes", "--results-dir", "/tmp/x", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "fmops plan: error: --run-sft 'yes': expected true or false"
