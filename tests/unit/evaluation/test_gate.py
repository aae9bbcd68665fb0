"""`fmops gate`: promote when every rule holds, block a regressed model, refuse bad input (exit 2).

Standard errors, comparable settings and forgetting: test_gate_noise.py, test_gate_comparable.py,
test_gate_forgetting.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fmops.core import manifest, registry

from tests.helpers import cli

FLOORS_MET = {"demo_addition": {"exact_match": 0.60}, "demo_choice": {"acc": 0.80}, "demo_preference": {"acc": 0.90}}


SETTINGS = {"backend": "hf", "limit": None, "apply_chat_template": True}


def evaluation(
    folder: Path, scores: dict[str, dict[str, float]], stderr: float | None = 0.02, settings: dict | None = None
) -> Path:
    """A complete `fmops evaluate` output with the given scores, each with `stderr`, and settings.json
    (`settings` overrides; every task at version 2.0, zero-shot)."""
    metrics = {
        task: {metric: {"value": value, "stderr": stderr, "samples": 300} for metric, value in values.items()}
        for task, values in scores.items()
    }
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    recorded = {**SETTINGS, "tasks": {task: {"version": 2.0, "n-shot": 0} for task in scores}, **(settings or {})}
    (folder / "settings.json").write_text(json.dumps(recorded))
    manifest.write(str(folder), stage="evaluate", inputs={}, config={}, metrics={}, started_at=manifest.now())
    return folder


def gate(tmp_path: Path, *args: str) -> tuple[int, dict, str, str]:
    """(exit status, gate.json, the promote file's exact text, reasons.md) of one in-process run."""
    results = tmp_path / "results"
    result = cli("gate", *args, "--results-dir", str(results))
    assert result.returncode == 0, result.stderr
    status = result.returncode
    decision = json.loads((results / "gate.json").read_text())
    return status, decision, (results / "promote").read_text(), (results / "reasons.md").read_text()


def scores_with(**changes: float) -> dict[str, dict[str, float]]:
    scores = json.loads(json.dumps(FLOORS_MET))
    for key, value in changes.items():
        task, metric = key.split("__")
        scores[task][metric] = value
    return scores


def test_promotes_when_every_rule_holds(tmp_path):
    base = evaluation(tmp_path / "base", FLOORS_MET)
    candidate = evaluation(tmp_path / "cand", scores_with(demo_choice__acc=0.78))  # a drop within 0.05
    status, decision, promote, reasons = gate(
        tmp_path, "--candidate", str(candidate), "--baseline", str(base), "--rules", "demo"
    )
    assert (status, promote, decision["promote"]) == (0, "true", True)
    assert len(decision["checks"]) == 5 and all(check["passed"] for check in decision["checks"])
    assert reasons.startswith(f"# Gate: promote\n\n- candidate: `{candidate}`\n- baseline: `{base}`\n")
    assert (
        "PASS max_regression: demo_choice/acc 0.7800 vs baseline 0.8000: drop 0.0200 within tolerance 0.06 "
        "(2 x se 0.0283 = 0.0566)\n"
    ) in reasons
    assert (tmp_path / "results" / "summary").read_text() == "promote: 5 rules hold"


def test_blocks_a_regressed_model(tmp_path):
    base = evaluation(tmp_path / "base", FLOORS_MET)
    candidate = evaluation(tmp_path / "cand", scores_with(demo_addition__exact_match=0.50))  # above floor, -0.10
    status, decision, promote, reasons = gate(
        tmp_path, "--candidate", str(candidate), "--baseline", str(base), "--rules", "demo"
    )
    assert (status, promote, decision["promote"]) == (0, "false", False)
    failed = [check for check in decision["checks"] if not check["passed"]]
    assert [(c["rule"], c["metric"], c["candidate"], c["baseline"]) for c in failed] == [
        ("max_regression", "demo_addition/exact_match", 0.50, 0.60)
    ]
    assert reasons.startswith("# Gate: blocked\n")
    assert (
        "FAIL max_regression: demo_addition/exact_match 0.5000 vs baseline 0.6000: drop 0.1000 beyond tolerance "
        "0.05 and beyond 2 x se 0.0283 = 0.0566\n"
    ) in reasons
    summary = "blocked: demo_addition/exact_match drop 0.1000 > 0.05 and > 2 se 0.0566"
    assert (tmp_path / "results" / "summary").read_text() == decision["summary"] == summary


def test_floor_from_flag_and_missing_metric_block(tmp_path):
    candidate = evaluation(tmp_path / "cand", {"demo_choice": {"acc": 0.8}})
    floors = ["--min", "demo_choice/acc=0.85", "--min", "demo_addition/exact_match=0.1"]
    status, decision, promote, reasons = gate(tmp_path, "--candidate", str(candidate), "--rules", "", *floors)
    assert (status, promote) == (0, "false")
    assert "FAIL min: demo_choice/acc 0.8000 < floor 0.85" in reasons
    assert "FAIL min: demo_addition/exact_match is missing from the candidate" in reasons
    assert "- no baseline given; regression rules do not apply" in reasons


def test_baseline_pointer_not_there_yet_and_registry_version(tmp_path):
    root = tmp_path / "registry"
    candidate = evaluation(tmp_path / "cand", scores_with(demo_preference__acc=0.70))
    pointer = registry.model_root(str(root), "tiny") + "/production"
    status, decision, promote, reasons = gate(
        tmp_path, "--candidate", str(candidate), "--baseline", pointer, "--rules", "demo"
    )
    assert (promote, decision["baseline"]) == ("true", None)
    assert f"- baseline pointer {pointer} does not exist yet; regression rules do not apply" in reasons
    version = tmp_path / "version"
    evaluation(version / "evaluation", FLOORS_MET)
    manifest.write(str(version), stage="dpo", inputs={}, config={}, metrics={}, started_at=manifest.now())
    published = registry.publish(str(root), "tiny", str(version), version="v1", pointer="production")
    status, decision, promote, _ = gate(
        tmp_path, "--candidate", str(candidate), "--baseline", pointer, "--rules", "demo"
    )
    assert (promote, decision["baseline"]) == ("false", f"{published}/evaluation")


@pytest.mark.parametrize(
    ("rules_text", "message"),
    [
        ("min:\n  demo_choice/acc: 0.5\nfloor: {}\n", "{rules}: field 'floor': unknown field"),
        (
            "min:\n  demo_choice: 0.5\n",
            "{rules}: field 'min': Value error, 'demo_choice' is not a metric name of the form task/metric",
        ),
        ("min: [unclosed\n", "{rules}:2: not valid YAML (expected ',' or ']', but got '<stream end>')"),
        (None, "{rules}: config file does not exist"),
    ],
)
def test_bad_rules_file(tmp_path, rules_text, message):
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    rules = tmp_path / "rules.yaml"
    if rules_text is not None:
        rules.write_text(rules_text)
    result = cli("gate", "--candidate", str(candidate), "--rules", str(rules))
    assert (result.returncode, result.stderr) == (2, f"fmops gate: error: {message.format(rules=rules)}\n")


def refused(*args: str) -> str:
    result = cli("gate", *args)
    assert result.returncode == 2 and result.stdout == "", result
    return result.stderr


def test_bad_flags_and_incomplete_candidate(tmp_path):
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    expected = "--min demo_choice/acc: expected task/metric=value, e.g. demo_addition/exact_match=0.5"
    assert refused("--candidate", str(candidate), "--min", "demo_choice/acc") == f"fmops gate: error: {expected}\n"
    expected = "--min: Value error, 'demo_choice/acc': -1.0 is negative"
    assert refused("--candidate", str(candidate), "--min", "demo_choice/acc=-1") == f"fmops gate: error: {expected}\n"
    expected = "no rules: give --rules NAME|FILE or --min task/metric=value"
    assert refused("--candidate", str(candidate)) == f"fmops gate: error: {expected}\n"
    (candidate / "manifest.json").unlink()
    expected = f"{candidate}: incomplete fmops output (no manifest.json); the evaluation did not finish"
    assert refused("--candidate", str(candidate), "--rules", "demo") == f"fmops gate: error: {expected}\n"


def test_the_stage_function_writes_the_decision_and_its_manifest(tmp_path):
    from fmops.evaluation.gate import Inputs, gate
    from fmops.evaluation.rules import Rules

    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    out = tmp_path / "out"
    decision = gate(Rules(min={"demo_choice/acc": 0.9}), Inputs(candidate=str(candidate), output=str(out)))
    assert (decision.promote, [c.metric for c in decision.checks]) == (False, ["demo_choice/acc"])
    assert (out / "promote").read_text() == "false"
    assert json.loads((out / "metrics.json").read_text()) == {"promote": 0, "rules": 1, "failed": 1}
    written = json.loads((out / "manifest.json").read_text())
    assert written["stage"] == "gate" and written["inputs"]["candidate"] == str(candidate)
