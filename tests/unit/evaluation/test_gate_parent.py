"""`fmops gate --parent`: the regression rules also compare the candidate with the evaluation of the model it was
trained from (the pipeline's SFT evaluation for a DPO model), so a skill lost in alignment blocks promotion on a
first run, before anything is in production; a change inside the noise band does not."""

from __future__ import annotations

import json

from fmops.core import manifest, registry

from tests.helpers import cli
from tests.unit.evaluation.test_gate import FLOORS_MET, evaluation, gate, scores_with

SFT = scores_with(demo_addition__exact_match=0.857)


def production(tmp_path) -> str:
    """The production pointer of a registry where nothing is in production yet."""
    return registry.model_root(str(tmp_path / "registry"), "demo") + "/production"


def test_a_skill_lost_against_the_parent_blocks_with_no_model_in_production(tmp_path):
    parent = evaluation(tmp_path / "eval-sft", SFT, stderr=0.02)
    candidate = evaluation(tmp_path / "eval-dpo", scores_with(demo_addition__exact_match=0.780), stderr=0.02)
    status, decision, promote, reasons = gate(
        tmp_path,
        *("--candidate", str(candidate), "--baseline", production(tmp_path), "--parent", str(parent)),
        *("--rules", "demo"),
    )
    assert (status, promote, decision["baseline"], decision["parent"]) == (0, "false", None, str(parent))
    summary = "blocked: demo_addition/exact_match drop 0.0770 vs parent > 0.05 and > 2 se 0.0566"
    assert decision["summary"] == (tmp_path / "results" / "summary").read_text() == summary
    assert "\n" not in summary
    assert f"does not exist yet; regression rules apply against the parent only\n- parent: `{parent}`\n" in reasons
    assert (
        "- FAIL max_regression vs parent: demo_addition/exact_match 0.7800 vs parent 0.8570: drop 0.0770 beyond "
        "tolerance 0.05 and beyond 2 x se 0.0283 = 0.0566\n"
    ) in reasons
    failed = [(c["rule"], c["against"], c["metric"]) for c in decision["checks"] if not c["passed"]]
    assert failed == [("max_regression", "parent", "demo_addition/exact_match")]
    assert json.loads((tmp_path / "results" / "metrics.json").read_text()) == {"promote": 0, "rules": 5, "failed": 1}


def test_a_drop_within_the_noise_band_of_the_parent_promotes(tmp_path):
    """0.06 beyond the 0.05 tolerance, but 2 x sqrt(2) x 0.03 = 0.0849 is noise on a set this small."""
    parent = evaluation(tmp_path / "eval-sft", SFT, stderr=0.03)
    candidate = evaluation(tmp_path / "eval-dpo", scores_with(demo_addition__exact_match=0.797), stderr=0.03)
    _, decision, promote, reasons = gate(
        tmp_path, "--candidate", str(candidate), "--parent", str(parent), "--rules", "demo"
    )
    assert (promote, decision["summary"]) == ("true", "promote: 5 rules hold")
    assert "drop 0.0600 beyond tolerance 0.05 and within 2 x se 0.0424 = 0.0849" in reasons


def test_parent_and_production_are_both_checked(tmp_path):
    """Fine against the parent, regressed against production: blocked, and the line says against which."""
    version = tmp_path / "version"
    evaluation(version / "evaluation", scores_with(demo_choice__acc=0.95))
    manifest.write(str(version), stage="dpo", inputs={}, config={}, metrics={}, started_at=manifest.now())
    registry.publish(str(tmp_path / "registry"), "demo", str(version), version="v1", pointer="production")
    parent = evaluation(tmp_path / "eval-sft", FLOORS_MET)
    candidate = evaluation(tmp_path / "eval-dpo", FLOORS_MET)
    _, decision, promote, _ = gate(
        tmp_path,
        *("--candidate", str(candidate), "--baseline", production(tmp_path), "--parent", str(parent)),
        *("--rules", "demo"),
    )
    assert (promote, decision["summary"]) == ("false", "blocked: demo_choice/acc drop 0.1500 > 0.06 and > 2 se 0.0566")
    against = sorted({c["against"] for c in decision["checks"] if c["rule"] == "max_regression"})
    assert against == ["baseline", "parent"] and len(decision["checks"]) == 8


def test_a_bad_parent_is_refused(tmp_path):
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    missing = tmp_path / "eval-sft"
    result = cli("gate", "--candidate", str(candidate), "--parent", str(missing), "--rules", "demo")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"fmops gate: error: {missing}: evaluation output does not exist\n"
    parent = evaluation(missing, FLOORS_MET, settings={"limit": 50})
    result = cli("gate", "--candidate", str(candidate), "--parent", str(parent), "--rules", "demo")
    assert (result.returncode, result.stderr) == (
        2,
        f"fmops gate: error: demo_addition: limit differs: candidate null, parent 50 ({parent}); evaluate both "
        "with the same settings\n",
    )
