"""`fmops gate`: a drop blocks only beyond the tolerance AND beyond stderr_factor standard errors of the
difference; without a stderr on either side the tolerance alone applies."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.evaluation.test_gate import evaluation, gate

METRIC = "demo_addition/exact_match"


def rules_file(tmp_path: Path, factor: float | None = None) -> Path:
    rules = tmp_path / "rules.yaml"
    factor_line = f"stderr_factor: {factor}\n" if factor is not None else ""
    rules.write_text(f"max_regression:\n  {METRIC}: 0.05\n{factor_line}")
    return rules


def regression(tmp_path: Path, drop: float, stderrs: tuple[float | None, float | None], factor: float | None = None):
    """(promote, the regression check's reason line) for a candidate `drop` below a 0.60 baseline."""
    candidate_se, baseline_se = stderrs
    base = evaluation(tmp_path / "base", {"demo_addition": {"exact_match": 0.60}}, stderr=baseline_se)
    candidate = evaluation(tmp_path / "cand", {"demo_addition": {"exact_match": 0.60 - drop}}, stderr=candidate_se)
    rules = rules_file(tmp_path, factor)
    _, decision, promote, reasons = gate(
        tmp_path, "--candidate", str(candidate), "--baseline", str(base), "--rules", str(rules)
    )
    line = next(line for line in reasons.splitlines() if "max_regression" in line)
    assert promote == ("true" if decision["promote"] else "false")
    return decision["promote"], line


def test_a_drop_inside_the_stderr_band_promotes(tmp_path):
    # se of the difference: hypot(0.05, 0.05) = 0.0707; 2 x se = 0.1414 > drop 0.10 > tolerance 0.05
    promote, line = regression(tmp_path, 0.10, (0.05, 0.05))
    assert promote is True
    assert line == (
        f"- PASS max_regression: {METRIC} 0.5000 vs baseline 0.6000: drop 0.1000 beyond tolerance 0.05 "
        "and within 2 x se 0.0707 = 0.1414"
    )


def test_a_drop_beyond_the_stderr_band_and_the_tolerance_blocks(tmp_path):
    promote, line = regression(tmp_path, 0.20, (0.05, 0.05))
    assert promote is False
    assert line.endswith("drop 0.2000 beyond tolerance 0.05 and beyond 2 x se 0.0707 = 0.1414")


def test_a_drop_beyond_the_stderr_band_but_within_the_tolerance_promotes(tmp_path):
    # 2 x hypot(0.005, 0.005) = 0.0141 < drop 0.04 <= tolerance 0.05
    promote, line = regression(tmp_path, 0.04, (0.005, 0.005))
    assert promote is True
    assert line.endswith("drop 0.0400 within tolerance 0.05 (2 x se 0.0071 = 0.0141)")


def test_the_factor_scales_the_band_and_zero_turns_it_off(tmp_path):
    promote, line = regression(tmp_path / "one", 0.10, (0.05, 0.05), factor=1)  # 1 x 0.0707 < 0.10
    assert (promote, line.endswith("beyond tolerance 0.05 and beyond 1 x se 0.0707 = 0.0707")) == (False, True)
    promote, line = regression(tmp_path / "off", 0.10, (0.05, 0.05), factor=0)
    assert promote is False
    assert line.endswith("drop 0.1000 beyond tolerance 0.05 (stderr_factor 0: the tolerance alone applies)")


@pytest.mark.parametrize(
    ("stderrs", "lacking"),
    [((0.05, None), "the baseline"), ((None, 0.05), "the candidate"), ((None, None), "the candidate and the baseline")],
)
def test_a_missing_stderr_leaves_the_tolerance_alone(tmp_path, stderrs, lacking):
    promote, line = regression(tmp_path / "beyond", 0.10, stderrs)  # inside the band were both stderrs 0.05
    assert promote is False
    assert line.endswith(f"drop 0.1000 beyond tolerance 0.05 (no stderr for {lacking}: the tolerance alone applies)")
    promote, _ = regression(tmp_path / "within", 0.04, stderrs)
    assert promote is True


def test_a_negative_factor_is_refused(tmp_path):
    from tests.helpers import cli

    candidate = evaluation(tmp_path / "cand", {"demo_addition": {"exact_match": 0.6}})
    rules = rules_file(tmp_path, -1)
    result = cli("gate", "--candidate", str(candidate), "--rules", str(rules))
    assert result.returncode == 2
    assert result.stderr == (
        f"fmops gate: error: {rules}: field 'stderr_factor': Input should be greater than or equal to 0\n"
    )
