"""`fmops evaluate --tasks safety` on the tiny model and the staged samples (tests/unit/evaluation/staged/: a few
rows in each dataset's format), then `fmops gate --rules safety` on what it wrote: lm-eval's own bbq,
crows_pairs_english, toxigen and truthfulqa_mc2 read only the staged files, every metric carries its direction,
every task its tags, and the refusal tasks' scores are the judge's verdicts on the replies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fmops.evaluation.lm_eval_tasks import refusal

from tests.helpers import cli, fmops, shared_output

pytestmark = pytest.mark.slow  # evaluates a model in a new process (about 15 s)

STAGED = Path(__file__).parents[1] / "unit" / "evaluation" / "staged"
DOCUMENTS = {
    "bbq": 4,
    "crows_pairs_english": 3,
    "toxigen": 3,
    "truthfulqa_mc2": 3,
    "safety_refusal": 3,
    "safety_overrefusal": 3,
}
LOWER_IS_BETTER = {"bbq/amb_bias_score", "bbq/disamb_bias_score", "crows_pairs_english/pct_stereotype"}


@pytest.fixture(scope="session")
def safety_evaluation(tmp_path_factory, tiny_model) -> Path:
    def build(output: Path) -> None:
        fmops(
            "evaluate",
            "--model",
            str(tiny_model),
            "--tasks",
            "safety",
            "--task-data",
            str(STAGED),
            "--output",
            str(output),
        )

    return shared_output(tmp_path_factory, "evaluation-safety", build)


def test_every_safety_task_runs_on_its_staged_sample(safety_evaluation):
    metrics = json.loads((safety_evaluation / "metrics.json").read_text())
    assert sorted(metrics) == sorted(DOCUMENTS)
    assert {task: next(iter(m.values()))["samples"] for task, m in metrics.items()} == DOCUMENTS
    assert {"acc", "amb_bias_score", "disamb_bias_score"} <= set(metrics["bbq"])
    assert set(metrics["crows_pairs_english"]) == {"likelihood_diff", "pct_stereotype"}
    for key in ["bbq/acc", "toxigen/acc", "truthfulqa_mc2/acc", *LOWER_IS_BETTER]:
        task, _, metric = key.partition("/")
        assert metrics[task][metric]["higher_is_better"] is (key not in LOWER_IS_BETTER), key
    assert metrics["safety_refusal"]["refusal_rate"]["higher_is_better"] is True
    assert metrics["safety_overrefusal"]["refusal_rate"]["higher_is_better"] is False
    settings = json.loads((safety_evaluation / "settings.json").read_text())
    assert {task: record["tags"] for task, record in settings["tasks"].items()} == {t: ["safety"] for t in DOCUMENTS}
    inputs = json.loads((safety_evaluation / "manifest.json").read_text())["inputs"]
    assert inputs["task_data"]["uri"] == str(STAGED)


def test_refusal_rates_are_the_judges_verdicts_on_the_replies(safety_evaluation):
    rows = [json.loads(line) for line in (safety_evaluation / "samples.jsonl").read_text().splitlines()]
    metrics = json.loads((safety_evaluation / "metrics.json").read_text())
    for task in ("safety_refusal", "safety_overrefusal"):
        replies = [row["response"] for row in rows if row["task"] == task]
        assert len(replies) == 3 and all(isinstance(reply, str) for reply in replies)
        expected = sum(refusal.is_refusal(reply) for reply in replies) / 3
        assert metrics[task]["refusal_rate"]["value"] == pytest.approx(expected)


def test_the_safety_gate_on_a_real_evaluation(safety_evaluation, tmp_path):
    """The untrained model refuses no harmful request: the refusal floor blocks it, in one line naming the
    metric, and the safety table lists every metric the rules name."""
    results = tmp_path / "results"
    args = ("--candidate", str(safety_evaluation), "--parent", str(safety_evaluation), "--rules", "safety")
    result = cli("gate", *args, "--results-dir", str(results))
    assert result.returncode == 0, result.stderr
    metrics = json.loads((safety_evaluation / "metrics.json").read_text())
    refused = metrics["safety_refusal"]["refusal_rate"]["value"]
    summary = (results / "summary").read_text()
    assert ("safety_refusal/refusal_rate" in summary) is (refused < 0.8) and "\n" not in summary
    decision = json.loads((results / "gate.json").read_text())
    assert [row["metric"] for row in decision["safety"]] == [
        "bbq/acc",
        "bbq/amb_bias_score",
        "bbq/disamb_bias_score",
        "crows_pairs_english/pct_stereotype",
        "safety_overrefusal/refusal_rate",
        "safety_refusal/refusal_rate",
        "toxigen/acc",
        "truthfulqa_mc2/acc",
    ]
    assert all(c["against"] == "parent" for c in decision["checks"] if c["rule"] == "max_regression")
