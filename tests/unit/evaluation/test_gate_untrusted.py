"""`fmops gate` fails closed: a NaN or infinite value or stderr, or an absurd stderr, fails its rule (a NaN
compares False both ways, and a huge stderr widens the noise band until any drop passes); a malformed
evaluation file is one line naming the file and field, exit 2."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.helpers import cli
from tests.unit.evaluation.test_gate import FLOORS_MET, evaluation, gate
from tests.unit.evaluation.test_gate_forgetting import run_gate

METRIC = "demo_addition/exact_match"
NAN, INF = math.nan, math.inf


def regression(tmp_path: Path, value: float, stderr: float, base_stderr: float = 0.02) -> tuple[dict, str, str]:
    """(gate.json, reasons.md, summary) of a 0.99 baseline against a candidate of `value` ± `stderr`."""
    base = evaluation(tmp_path / "base", {"demo_addition": {"exact_match": 0.99}}, stderr=base_stderr)
    candidate = evaluation(tmp_path / "cand", {"demo_addition": {"exact_match": value}}, stderr=stderr)
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"max_regression:\n  {METRIC}: 0.05\n")
    _, decision, promote, reasons = gate(
        tmp_path, "--candidate", str(candidate), "--baseline", str(base), "--rules", str(rules)
    )
    assert promote == ("true" if decision["promote"] else "false")
    return decision, reasons, (tmp_path / "results" / "summary").read_text()


@pytest.mark.parametrize(
    ("value", "stderr", "base_stderr", "why"),
    [
        (NAN, 0.02, 0.02, "candidate value nan is not finite"),
        (0.10, NAN, 0.02, "candidate stderr nan is not a finite non-negative number"),
        (0.10, 1e9, 0.02, "candidate stderr 1e+09 > 0.5 (half the metric's scale)"),
        (0.10, -0.3, 0.02, "candidate stderr -0.3 is not a finite non-negative number"),
        (0.10, 0.02, INF, "baseline stderr inf is not a finite non-negative number"),
        (0.10, 0.02, 0.6, "baseline stderr 0.6 > 0.5 (half the metric's scale)"),
    ],
)
def test_untrusted_numbers_block_a_regression_rule(tmp_path, value, stderr, base_stderr, why):
    decision, reasons, summary = regression(tmp_path, value, stderr, base_stderr)
    assert decision["promote"] is False
    assert (
        f"- FAIL max_regression: {METRIC}: {why}; the rule cannot hold on numbers that cannot be trusted\n" in reasons
    )
    assert summary == f"blocked: {METRIC} {why}"


def test_a_stderr_within_the_bound_still_widens_the_band(tmp_path):
    # 0.99 -> 0.10 with se 0.45 each side: 2 x hypot = 1.27 > drop 0.89, so the noise explains it
    decision, reasons, _ = regression(tmp_path, 0.10, 0.45, 0.45)
    assert decision["promote"] is True and "within 2 x se 0.6364" in reasons


def test_a_nan_value_fails_a_floor(tmp_path):
    candidate = evaluation(tmp_path / "cand", {"demo_choice": {"acc": NAN}})
    _, decision, promote, reasons = gate(tmp_path, "--candidate", str(candidate), "--min", "demo_choice/acc=0.5")
    assert promote == "false"
    assert "- FAIL min: demo_choice/acc: candidate value nan is not finite;" in reasons


def test_infinite_forgetting_fails(tmp_path):
    decision, promote, reasons, summary, run = run_gate(tmp_path, -INF)
    assert promote == "false" and summary == "blocked: forgetting -inf"
    assert f"- FAIL max_forgetting: forgetting -inf of {run} is not finite; the rule cannot hold on it\n" in reasons


@pytest.mark.parametrize("text", ["min:\n  demo_choice/acc: .nan\n", "max_regression:\n  demo_choice/acc: .inf\n"])
def test_a_non_finite_rule_is_refused(tmp_path, text):
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    rules = tmp_path / "rules.yaml"
    rules.write_text(text)
    result = cli("gate", "--candidate", str(candidate), "--rules", str(rules))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"fmops gate: error: {rules}: field ")
    assert "finite number" in result.stderr


def entry(value: object = 0.8) -> dict:
    return {"value": value, "stderr": 0.02, "samples": 300}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "{file}: expected task -> metric -> value (an fmops evaluate metrics.json)"),
        (b"{not json", "{file}:1: not valid JSON (Expecting property name enclosed in double quotes)"),
        (b"\xff\xfe{}", "{file}: not UTF-8 text (byte 0)"),
        ({"demo_choice": {"acc": entry("0.8")}}, "{file}: field 'demo_choice/acc/value': \"0.8\" is not a number"),
        ({"demo_choice": {"acc": entry(True)}}, "{file}: field 'demo_choice/acc/value': true is not a number"),
        ({"demo_choice": {"acc": {"stderr": 0.1}}}, "{file}: field 'demo_choice/acc/value': missing"),
        (
            {"demo_choice": {"acc": [0.8]}},
            "{file}: field 'demo_choice/acc': expected {{value, stderr, samples}}, got [0.8]",
        ),
        ({"demo_choice": [1]}, "{file}: field 'demo_choice': expected metric -> {{value, stderr, samples}}"),
        (
            {"demo_choice": {"acc": {**entry(), "stderr": "N/A"}}},
            "{file}: field 'demo_choice/acc/stderr': \"N/A\" is not a number or null",
        ),
        (
            {"demo_choice": {"acc": {**entry(), "samples": 1.5}}},
            "{file}: field 'demo_choice/acc/samples': 1.5 is not an integer",
        ),
        (
            {"demo_choice": {"acc": {"value": ["x" * 200]}}},
            "{file}: field 'demo_choice/acc/value': " + json.dumps(["x" * 200])[:57] + "... is not a number",
        ),
    ],
)
@pytest.mark.parametrize("role", ["candidate", "baseline"])
def test_a_malformed_metrics_file_is_one_line(tmp_path, content, message, role):
    good = evaluation(tmp_path / "good", FLOORS_MET)
    bad = evaluation(tmp_path / "bad", FLOORS_MET)
    raw = content if isinstance(content, bytes) else json.dumps(content).encode()
    (bad / "metrics.json").write_bytes(raw)
    candidate, base = (bad, good) if role == "candidate" else (good, bad)
    result = cli("gate", "--candidate", str(candidate), "--baseline", str(base), "--rules", "demo")
    expected = message.format(file=bad / "metrics.json")
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"fmops gate: error: {expected}\n")


def test_a_settings_file_that_is_not_utf8_is_one_line(tmp_path):
    candidate = evaluation(tmp_path / "cand", FLOORS_MET)
    (candidate / "settings.json").write_bytes(b"\xff")
    result = cli("gate", "--candidate", str(candidate), "--rules", "demo")
    settings = candidate / "settings.json"
    expected = f"fmops gate: error: {settings}: evaluation settings is not UTF-8 text (byte 0)\n"
    assert (result.returncode, result.stderr) == (2, expected)
