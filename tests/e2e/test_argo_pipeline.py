"""The main job end to end: `fmops run` executes the committed fmops-pipeline on the tiny model.

The pipeline starts from the session's pretrained demo model (the `pretrained_model` fixture, the same
`fmops pretrain --config demo` the pipeline's own pretrain phase runs by default) and continues it for a few
steps, so the suite trains the 1600-step demo pretraining once; `benchmarks/pipeline-cpu.json` times the
pipeline as `fmops run` runs it from scratch."""

import json
from pathlib import Path

import pytest

from tests.helpers import fmops

PHASES = tuple("demo-data plan pretrain evaluate-pretrain sft evaluate-sft dpo evaluate-final gate deploy".split())


def mean_score(node: dict) -> float:
    """The mean of every held-out demo metric (exact match, choice accuracy, preference accuracy)."""
    values = [m["value"] for task in json.loads(node["outputs"]["metrics"]).values() for m in task.values()]
    return sum(values) / len(values)


CONTINUE = "max_steps: 40\nmax_length: 128\nper_device_train_batch_size: 4\nlearning_rate: 3.0e-4\nsave_steps: 20\n"


@pytest.mark.slow
def test_demo_lifecycle_runs_from_the_committed_templates(tmp_path: Path, pretrained_model: Path):
    run_dir = tmp_path / "run"
    (tmp_path / "continue.yaml").write_text(CONTINUE)
    parameters = {"base-model": pretrained_model, "pretrain-recipe": tmp_path / "continue.yaml"}
    options = [arg for name, value in parameters.items() for arg in ("-p", f"{name}={value}")]
    result = fmops("run", "--workdir", str(run_dir), *options, check=False, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]
    nodes = json.loads((run_dir / "run.json").read_text())["nodes"]
    assert {p: nodes[f"pipeline/{p}"]["phase"] for p in PHASES} == dict.fromkeys(PHASES, "Succeeded")
    assert nodes["pipeline/pretrain/train"]["phase"] == "Succeeded"
    assert nodes["pipeline/pretrain/train-distributed"]["phase"] == "Skipped"

    # every phase's gain is measured on the held-out set, and finetuning gains on the demo skill
    assert mean_score(nodes["pipeline/evaluate-sft"]) > mean_score(nodes["pipeline/evaluate-pretrain"]) + 0.03
    assert "evaluation (held-out)" in result.stderr

    # the gate promoted, deploy published the version and moved production after its smoke test
    assert nodes["pipeline/gate"]["outputs"]["promote"] == "true"
    models = run_dir / "storage" / "models" / "demo"
    production = json.loads((models / "production").read_text())
    assert (models / production["version"] / "manifest.json").is_file()
    assert (models / production["version"] / "evaluation" / "metrics.json").is_file()

    # the exit handler recorded the outcome; the report has the tables and the plots
    status = json.loads((run_dir / "storage" / "runs" / "run" / "status.json").read_text())
    assert status["status"] == "Succeeded"
    report = (run_dir / "report.md").read_text()
    assert "## Evaluation (held-out demo sets)" in report and "Gate (pipeline/gate): promote = **true**" in report
    plots = [line for line in report.splitlines() if line.startswith("![")]
    assert plots and all((run_dir / line.split("](")[1].rstrip(")")).is_file() for line in plots)
