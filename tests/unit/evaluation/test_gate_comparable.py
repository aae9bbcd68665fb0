"""`fmops gate` compares only evaluations made the same way: for every task a regression rule names, the
same lm-eval task version, few-shot count, limit, chat template use and backend (settings.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import cli
from tests.unit.evaluation.test_gate import FLOORS_MET, evaluation, gate

PREFIX = "fmops gate: error: "


def refusal(candidate: Path, base: Path, rules: str = "demo") -> str:
    result = cli("gate", "--candidate", str(candidate), "--baseline", str(base), "--rules", rules)
    assert (result.returncode, result.stdout) == (2, ""), result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX), result.stderr
    return lines[0].removeprefix(PREFIX)


def tasks_with(task: str, **setting) -> dict:
    """settings.json's tasks with one task's settings changed."""
    tasks = {name: {"version": 2.0, "n-shot": 0} for name in FLOORS_MET}
    tasks[task] = {**tasks[task], **setting}
    return {"tasks": tasks}


@pytest.mark.parametrize(
    ("candidate_settings", "expected"),
    [
        ({"limit": 10}, "demo_addition: limit differs: candidate 10, baseline null"),
        ({"apply_chat_template": False}, "demo_addition: apply_chat_template differs: candidate false, baseline true"),
        ({"backend": "vllm"}, 'demo_addition: backend differs: candidate "vllm", baseline "hf"'),
        (tasks_with("demo_choice", version=3.0), "demo_choice: version differs: candidate 3.0, baseline 2.0"),
        (tasks_with("demo_preference", **{"n-shot": 5}), "demo_preference: n-shot differs: candidate 5, baseline 0"),
    ],
)
def test_a_setting_that_differs_for_a_compared_task_is_refused(tmp_path, candidate_settings, expected):
    base = evaluation(tmp_path / "base", FLOORS_MET)
    candidate = evaluation(tmp_path / "cand", FLOORS_MET, settings=candidate_settings)
    assert refusal(candidate, base) == f"{expected} ({base}); evaluate both with the same settings"


def test_a_task_evaluated_on_one_side_only_is_refused(tmp_path):
    base = evaluation(tmp_path / "base", FLOORS_MET)
    fewer = {task: scores for task, scores in FLOORS_MET.items() if task != "demo_choice"}
    candidate = evaluation(tmp_path / "cand", fewer)
    expected = "demo_choice: evaluated by the baseline only; evaluate both on the same tasks to compare"
    assert refusal(candidate, base) == expected
    assert refusal(base, candidate) == expected.replace("the baseline only", "the candidate only")


def test_a_baseline_from_an_older_fmops_is_refused(tmp_path):
    base = evaluation(tmp_path / "base", FLOORS_MET)
    (base / "settings.json").unlink()
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    assert refusal(candidate, base) == (
        f"{base}: the baseline evaluation has no settings.json (made by an older "
        "fmops); re-evaluate it with this fmops to compare with it"
    )


def test_tasks_no_regression_rule_names_may_differ(tmp_path):
    base = evaluation(tmp_path / "base", FLOORS_MET)
    candidate = evaluation(tmp_path / "cand", FLOORS_MET, settings=tasks_with("demo_choice", version=3.0))
    rules = tmp_path / "rules.yaml"
    rules.write_text("min:\n  demo_choice/acc: 0.5\nmax_regression:\n  demo_addition/exact_match: 0.05\n")
    status, decision, promote, _ = gate(
        tmp_path, "--candidate", str(candidate), "--baseline", str(base), "--rules", str(rules)
    )
    assert (status, promote, len(decision["checks"])) == (0, "true", 2)
    assert refusal(base, candidate).startswith("demo_choice: version differs")  # the demo rules name it


def test_without_a_baseline_no_settings_are_needed(tmp_path):
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    (candidate / "settings.json").unlink()
    status, _, promote, _ = gate(tmp_path, "--candidate", str(candidate), "--rules", "demo")
    assert (status, promote) == (0, "true")


def test_a_malformed_settings_file_is_refused(tmp_path):
    base = evaluation(tmp_path / "base", FLOORS_MET)
    settings = base / "settings.json"
    settings.write_text(json.dumps({"tasks": {}, "limit": None, "backend": "hf"}))
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    assert refusal(candidate, base) == f"{settings}: field 'apply_chat_template': missing"
