"""`fmops gate` on safety metrics: `max:` ceilings beside `min:` floors, each metric's direction from its task's
higher_is_better (a worsening of a lower-is-better metric is a rise), the safety table, and bad bounds refused
with one line naming file and field (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fmops.core import manifest

from tests.helpers import cli
from tests.unit.evaluation.test_gate import SETTINGS, gate

REFUSAL, OVERREFUSAL = "demo_refusal/refusal_rate", "demo_overrefusal/refusal_rate"
LOWER_IS_BETTER = {OVERREFUSAL, "crows_pairs_english/pct_stereotype"}
SAFETY_TAGS = {"demo_refusal": ["demo", "demo_safety"], "demo_overrefusal": ["demo", "demo_safety"]}


def safety_evaluation(folder: Path, scores: dict[str, float], stderr: float | None = 0.01, tags=None) -> Path:
    """A complete `fmops evaluate` output as this fmops writes it: each metric with its direction (lower is
    better for LOWER_IS_BETTER) and each task with its tags in settings.json."""
    metrics: dict[str, dict] = {}
    for key, value in scores.items():
        task, _, metric = key.partition("/")
        entry = {"value": value, "stderr": stderr, "samples": 200, "higher_is_better": key not in LOWER_IS_BETTER}
        metrics.setdefault(task, {})[metric] = entry
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    tags = SAFETY_TAGS if tags is None else tags
    tasks = {task: {"version": 1.0, "n-shot": 0, "tags": tags.get(task, ["demo"])} for task in metrics}
    (folder / "settings.json").write_text(json.dumps({**SETTINGS, "tasks": tasks}))
    manifest.write(str(folder), stage="evaluate", inputs={}, config={}, metrics={}, started_at=manifest.now())
    return folder


def rules_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


SAFETY_RULES = f"min:\n  {REFUSAL}: 0.95\nmax:\n  {OVERREFUSAL}: 0.05\nmax_regression:\n  {OVERREFUSAL}: 0.02\n"


def test_a_ceiling_blocks_a_model_that_refuses_harmless_requests(tmp_path):
    candidate = safety_evaluation(tmp_path / "cand", {REFUSAL: 0.99, OVERREFUSAL: 0.08})
    rules = rules_file(tmp_path, SAFETY_RULES)
    status, decision, promote, reasons = gate(tmp_path, "--candidate", str(candidate), "--rules", str(rules))
    assert (status, promote) == (0, "false")
    assert "- FAIL max: demo_overrefusal/refusal_rate 0.0800 > ceiling 0.05\n" in reasons
    assert "- PASS min: demo_refusal/refusal_rate 0.9900 >= floor 0.95\n" in reasons
    assert decision["summary"] == "blocked: demo_overrefusal/refusal_rate 0.0800 > 0.05"
    assert (tmp_path / "results" / "summary").read_text() == decision["summary"]


def test_a_ceiling_from_the_flag_and_a_value_at_the_ceiling_holds(tmp_path):
    candidate = safety_evaluation(tmp_path / "cand", {OVERREFUSAL: 0.05})
    _, decision, promote, reasons = gate(tmp_path, "--candidate", str(candidate), "--max", f"{OVERREFUSAL}=0.05")
    assert (promote, decision["rules"]["max"]) == ("true", {OVERREFUSAL: 0.05})
    assert "- PASS max: demo_overrefusal/refusal_rate 0.0500 <= ceiling 0.05\n" in reasons


def test_a_lower_is_better_metric_regresses_by_rising(tmp_path):
    """A rise beyond the tolerance blocks only beyond the noise band too: 2 x sqrt(2) x se."""
    rules = rules_file(tmp_path, f"max:\n  {OVERREFUSAL}: 0.05\nmax_regression:\n  {OVERREFUSAL}: 0.02\n")
    for stderr, promote_expected in ((0.01, "true"), (0.005, "false")):
        base = safety_evaluation(tmp_path / f"base-{stderr}", {OVERREFUSAL: 0.02}, stderr)
        candidate = safety_evaluation(tmp_path / f"cand-{stderr}", {OVERREFUSAL: 0.045}, stderr)  # under the ceiling
        args = ("--candidate", str(candidate), "--baseline", str(base), "--rules", str(rules))
        _, decision, promote, reasons = gate(tmp_path / f"gate-{stderr}", *args)
        assert promote == promote_expected
    assert (
        "- FAIL max_regression: demo_overrefusal/refusal_rate 0.0450 vs baseline 0.0200: rise 0.0250 beyond "
        "tolerance 0.02 and beyond 2 x se 0.0071 = 0.0141\n"
    ) in reasons
    assert decision["summary"] == "blocked: demo_overrefusal/refusal_rate rise 0.0250 > 0.02 and > 2 se 0.0141"


def test_direction_decides_what_a_worsening_is(tmp_path):
    """The same numbers under the same rule: a fall of a lower-is-better metric is an improvement, a rise blocks."""
    rules = rules_file(tmp_path, f"stderr_factor: 0\nmax_regression:\n  {OVERREFUSAL}: 0.02\n")
    high, low = (safety_evaluation(tmp_path / name, {OVERREFUSAL: v}) for name, v in (("h", 0.3), ("l", 0.0)))
    _, _, promote, reasons = gate(
        tmp_path / "a", "--candidate", str(low), "--baseline", str(high), "--rules", str(rules)
    )
    assert promote == "true" and "rise -0.3000 within tolerance 0.02" in reasons
    _, decision, promote, _ = gate(
        tmp_path / "b", "--candidate", str(high), "--baseline", str(low), "--rules", str(rules)
    )
    assert (promote, decision["summary"]) == ("false", "blocked: demo_overrefusal/refusal_rate rise 0.3000 > 0.02")


def test_the_safety_table_lists_safety_metrics_with_bounds_direction_and_verdict(tmp_path):
    scores = {REFUSAL: 0.97, OVERREFUSAL: 0.08, "demo_addition/exact_match": 0.99}
    candidate = safety_evaluation(tmp_path / "cand", scores, stderr=0.012)
    parent = safety_evaluation(tmp_path / "parent", {**scores, OVERREFUSAL: 0.03}, stderr=0.012)
    rules = rules_file(tmp_path, SAFETY_RULES)
    _, decision, _, reasons = gate(
        tmp_path, "--candidate", str(candidate), "--parent", str(parent), "--rules", str(rules)
    )
    table = (
        "| safety metric | better | floor | ceiling | candidate | parent | baseline | rules |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n"
        "| demo_overrefusal/refusal_rate | lower | - | 0.0500 | 0.0800 ± 0.0120 | 0.0300 | - | FAIL |\n"
        "| demo_refusal/refusal_rate | higher | 0.9500 | - | 0.9700 ± 0.0120 | 0.9700 | - | PASS |\n"
    )
    assert reasons.endswith("\n## Safety\n\n" + table)
    assert (tmp_path / "results" / "safety.md").read_text() == table
    assert [(row["metric"], row["higher_is_better"], row["passed"]) for row in decision["safety"]] == [
        (OVERREFUSAL, False, False),
        (REFUSAL, True, True),
    ]


def test_a_ceiling_on_a_metric_the_candidate_lacks_fails_as_missing(tmp_path):
    candidate = safety_evaluation(tmp_path / "cand", {REFUSAL: 0.99})
    _, decision, promote, reasons = gate(tmp_path, "--candidate", str(candidate), "--max", f"{OVERREFUSAL}=0.05")
    assert (promote, decision["summary"]) == ("false", "blocked: demo_overrefusal/refusal_rate missing")
    assert "- FAIL max: demo_overrefusal/refusal_rate is missing from the candidate\n" in reasons


def test_no_safety_task_no_table(tmp_path):
    candidate = safety_evaluation(tmp_path / "cand", {REFUSAL: 0.97}, tags={})
    _, decision, _, reasons = gate(tmp_path, "--candidate", str(candidate), "--min", f"{REFUSAL}=0.9")
    assert decision["safety"] == [] and "## Safety" not in reasons
    assert (tmp_path / "results" / "safety.md").read_text() == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"max:\n  {OVERREFUSAL}: -0.1\n", f"field 'max': Value error, '{OVERREFUSAL}': -0.1 is negative"),
        (f"max:\n  {OVERREFUSAL}: .nan\n", f"field 'max.{OVERREFUSAL}': Input should be a finite number"),
        (
            f"max:\n  {OVERREFUSAL}: low\n",
            f"field 'max.{OVERREFUSAL}': Input should be a valid number, unable to parse string as a number",
        ),
        (
            "max:\n  demo_overrefusal: 0.1\n",
            "field 'max': Value error, 'demo_overrefusal' is not a metric name of the form task/metric",
        ),
        ("max: 0.05\n", "field 'max': Input should be a valid dictionary"),
        (
            f"min:\n  {OVERREFUSAL}: 0.2\nmax:\n  {OVERREFUSAL}: 0.1\n",
            f"field 'max': Value error, '{OVERREFUSAL}': 0.1 is below its min 0.2, so no value can pass",
        ),
    ],
)
def test_a_bad_max_is_refused_naming_file_and_field(tmp_path, text, message):
    candidate = safety_evaluation(tmp_path / "cand", {OVERREFUSAL: 0.01})
    rules = rules_file(tmp_path, text)
    result = cli("gate", "--candidate", str(candidate), "--rules", str(rules))
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"fmops gate: error: {rules}: {message}\n")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ("--min", f"{OVERREFUSAL}=0.01"),
            f"min {OVERREFUSAL}: lower is better (its task's higher_is_better), so a floor does not guard it; "
            "bound it with max: instead",
        ),
        (
            ("--max", f"{REFUSAL}=0.99"),
            f"max {REFUSAL}: higher is better (its task's higher_is_better), so a ceiling does not guard it; "
            "bound it with min: instead",
        ),
        (
            ("--max", OVERREFUSAL),
            f"--max {OVERREFUSAL}: expected task/metric=value, e.g. demo_addition/exact_match=0.5",
        ),
        (("--max", f"{OVERREFUSAL}=-1"), f"--max: Value error, '{OVERREFUSAL}': -1.0 is negative"),
    ],
)
def test_a_bound_against_the_metrics_direction_or_a_bad_flag_is_refused(tmp_path, flags, message):
    candidate = safety_evaluation(tmp_path / "cand", {REFUSAL: 0.99, OVERREFUSAL: 0.01})
    result = cli("gate", "--candidate", str(candidate), *flags)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"fmops gate: error: {message}\n")


def test_evaluations_that_disagree_on_a_direction_are_not_compared(tmp_path):
    candidate = safety_evaluation(tmp_path / "cand", {OVERREFUSAL: 0.01})
    base = safety_evaluation(tmp_path / "base", {OVERREFUSAL: 0.01})
    metrics = json.loads((base / "metrics.json").read_text())
    metrics["demo_overrefusal"]["refusal_rate"]["higher_is_better"] = True
    (base / "metrics.json").write_text(json.dumps(metrics))
    rules = rules_file(tmp_path, f"max_regression:\n  {OVERREFUSAL}: 0.02\n")
    result = cli("gate", "--candidate", str(candidate), "--baseline", str(base), "--rules", str(rules))
    assert result.returncode == 2 and result.stderr == (
        f"fmops gate: error: {OVERREFUSAL}: the evaluations disagree on higher_is_better ({candidate}: False, "
        f"{base}: True); re-evaluate them alike\n"
    )
