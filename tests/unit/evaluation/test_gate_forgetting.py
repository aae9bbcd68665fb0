"""`fmops gate --training`: a continuous-pretraining candidate is blocked when its training run forgot more
than max_forgetting (or did not measure it); the one-line `summary` says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fmops.core import manifest

from tests.helpers import cli
from tests.unit.evaluation.test_gate import FLOORS_MET, evaluation, gate, scores_with


def training(folder: Path, forgetting: float | None, stage: str = "pretrain") -> Path:
    """A complete `fmops pretrain` output whose metrics.json has `forgetting`."""
    folder.mkdir(parents=True)
    metrics = {"steps": 150, "replay_loss": None if forgetting is None else 1.2 + forgetting, "forgetting": forgetting}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    manifest.write(str(folder), stage=stage, inputs={}, config={}, metrics={}, started_at=manifest.now())
    return folder


def rules_file(tmp_path: Path, limit: float = 0.3) -> Path:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        f"min:\n  demo_choice/acc: 0.5\nmax_regression:\n  demo_addition/exact_match: 0.05\nmax_forgetting: {limit}\n"
    )
    return rules


def run_gate(tmp_path: Path, forgetting: float | None, candidate_scores: dict = FLOORS_MET):
    """(gate.json, promote, reasons.md, summary, the training output) of a gate with max_forgetting 0.3."""
    base = evaluation(tmp_path / "base", FLOORS_MET)
    candidate = evaluation(tmp_path / "cand", candidate_scores)
    trained = training(tmp_path / "pretrain", forgetting)
    args = ["--candidate", str(candidate), "--baseline", str(base), "--training", str(trained)]
    _, decision, promote, reasons = gate(tmp_path, *args, "--rules", str(rules_file(tmp_path)))
    return decision, promote, reasons, (tmp_path / "results" / "summary").read_text(), trained


def test_forgetting_within_the_limit_promotes(tmp_path):
    decision, promote, reasons, summary, run = run_gate(tmp_path, 0.12)
    assert (promote, summary, decision["forgetting"]) == ("true", "promote: 3 rules hold", 0.12)
    assert f"- training: `{run}`\n" in reasons
    assert f"- PASS max_forgetting: forgetting 0.1200 <= max_forgetting 0.3 (replay loss rise of {run})\n" in reasons


def test_forgetting_above_the_limit_blocks_and_the_summary_lists_every_failure(tmp_path):
    regressed = scores_with(demo_addition__exact_match=0.40)
    decision, promote, reasons, summary, run = run_gate(tmp_path, 0.91, regressed)
    assert (promote, decision["promote"]) == ("false", False)
    assert f"- FAIL max_forgetting: forgetting 0.9100 > max_forgetting 0.3 (replay loss rise of {run})\n" in reasons
    assert summary == "blocked: forgetting 0.91 > 0.30; demo_addition/exact_match drop 0.2000 > 0.05 and > 2 se 0.0566"
    assert "\n" not in summary


def test_unmeasured_forgetting_fails_closed(tmp_path):
    decision, promote, reasons, summary, run = run_gate(tmp_path, None)
    assert (promote, summary) == ("false", "blocked: forgetting unmeasured")
    assert (
        f"- FAIL max_forgetting: {run} has no forgetting (trained without --replay); max_forgetting 0.3 needs "
        "replay data to measure it\n"
    ) in reasons


def test_without_max_forgetting_a_run_without_replay_is_only_recorded(tmp_path):
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    run = training(tmp_path / "pretrain", None)
    _, decision, promote, _ = gate(tmp_path, "--candidate", str(candidate), "--training", str(run), "--rules", "demo")
    assert (promote, decision["training"], decision["forgetting"]) == ("true", str(run), None)
    assert "max_forgetting" not in {check["rule"] for check in decision["checks"]}


def refused(*args: str) -> str:
    result = cli("gate", *args)
    assert (result.returncode, result.stdout) == (2, ""), result
    return result.stderr.removeprefix("fmops gate: error: ").rstrip("\n")


def test_max_forgetting_needs_a_training_output(tmp_path):
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    rules = rules_file(tmp_path, 0.25)
    assert refused("--candidate", str(candidate), "--rules", str(rules)) == (
        "the rules set max_forgetting 0.25: give --training (the candidate's fmops pretrain output)"
    )
    assert not (tmp_path / "results").exists()


EXPECTED_PRETRAIN = "expected an fmops pretrain output"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path: path, "{run}: fmops pretrain output does not exist"),
        (lambda path: training(path, 0.1, stage="sft"), f"{{run}}: an fmops sft output, {EXPECTED_PRETRAIN}"),
        (lambda path: evaluation(path, FLOORS_MET), f"{{run}}: an fmops evaluate output, {EXPECTED_PRETRAIN}"),
    ],
)
def test_a_training_input_that_is_no_pretrain_output_is_refused(tmp_path, make, message):
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    run = make(tmp_path / "run")
    args = ["--candidate", str(candidate), "--training", str(run), "--rules", str(rules_file(tmp_path))]
    assert refused(*args) == message.format(run=run)


def test_a_forgetting_that_is_no_number_is_refused(tmp_path):
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    run = training(tmp_path / "run", 0.1)
    (run / "metrics.json").write_text(json.dumps({"steps": 150, "forgetting": "high"}))
    rules = rules_file(tmp_path)
    message = refused("--candidate", str(candidate), "--training", str(run), "--rules", str(rules))
    assert message == f"{run / 'metrics.json'}: field 'forgetting': 'high' is not a number or null"


def test_the_continuous_rules_gate_the_demo_tasks_and_forgetting(tmp_path):
    from fmops.evaluation import rules

    continuous = rules.load("continuous", [])
    assert continuous.max_forgetting is not None and continuous.stderr_factor == 2
    assert {key.partition("/")[0] for key in continuous.max_regression} == set(FLOORS_MET)
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    over = training(tmp_path / "over", continuous.max_forgetting + 0.01)
    _, decision, promote, _ = gate(
        tmp_path,
        "--candidate",
        str(candidate),
        "--baseline",
        str(candidate),
        "--training",
        str(over),
        "--rules",
        "continuous",
    )
    assert promote == "false"
    assert [c["rule"] for c in decision["checks"] if not c["passed"]] == ["max_forgetting"]
