"""`fmops evaluate` on a model directory (the harness's in-process `hf` model): metrics, per-sample results,
report, settings, manifest, flags, S3; and the gate on two real evaluations."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import cli, create_bucket, fmops, shared_output

DEMO_TASKS = {"demo_addition": "exact_match", "demo_choice": "acc", "demo_preference": "acc"}

pytestmark = pytest.mark.slow  # evaluates a model in a new process


@pytest.fixture(scope="session")
def evaluation(tmp_path_factory, tiny_model) -> tuple[Path, Path]:
    """One full default run (`--tasks` left to its default: the three demo tasks, 300 documents each),
    shared by every xdist worker."""

    def build(output: Path) -> None:
        results = output.parent / f"{output.name}-results"
        fmops("evaluate", "--model", str(tiny_model), "--output", str(output), "--results-dir", str(results))

    output = shared_output(tmp_path_factory, "evaluation-tiny", build)
    return output, output.parent / f"{output.name}-results"


def read_samples(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_metrics_per_task_with_stderr_and_counts(evaluation):
    output, results = evaluation
    metrics = json.loads((output / "metrics.json").read_text())
    assert {task: sorted(m) for task, m in metrics.items()} == {t: [m] for t, m in DEMO_TASKS.items()}
    for task, metric in DEMO_TASKS.items():
        entry = metrics[task][metric]
        assert entry["samples"] == 300
        assert 0.0 <= entry["value"] <= 1.0
        assert entry["stderr"] == pytest.approx((entry["value"] * (1 - entry["value"]) / 299) ** 0.5)
    assert json.loads((results / "metrics.json").read_text()) == metrics


def test_samples_agree_with_metrics(evaluation):
    output, _ = evaluation
    samples = read_samples(output / "samples.jsonl")
    metrics = json.loads((output / "metrics.json").read_text())
    for task, metric in DEMO_TASKS.items():
        rows = [row for row in samples if row["task"] == task]
        assert [row["doc_id"] for row in rows] == list(range(300))
        assert metrics[task][metric]["value"] == pytest.approx(sum(r["metrics"][metric] for r in rows) / 300)
    addition = next(row for row in samples if row["task"] == "demo_addition")
    assert addition["prompt"] == "<|im_start|>user\nWhat is 22+13?<|im_end|>\n<|im_start|>assistant\n"
    assert addition["target"] == "22+13: 2+3=05, 2+1+0=03, so 35"
    for row in (r for r in samples if r["task"] == "demo_preference"):
        chosen, rejected = (loglikelihood for loglikelihood, _ in row["response"])
        assert row["metrics"]["acc"] == float(chosen > rejected)


def test_report_chart_and_manifest_last(evaluation):
    output, results = evaluation
    report = (results / "report.md").read_text()
    assert "- no baseline given" in report
    assert "| demo_addition | exact_match | 300 |" in report
    for folder in (output, results):
        assert (folder / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["stage"] == "evaluate"
    assert manifest["metrics"]["samples"] == 900
    assert manifest["config"]["tasks"] == "demo"
    assert manifest["config"]["backend"] == "hf"  # auto, on a machine without vllm
    newest = max(p.stat().st_mtime_ns for p in output.iterdir() if p.name != "manifest.json")
    assert (output / "manifest.json").stat().st_mtime_ns >= newest


def test_settings_record_what_makes_evaluations_comparable(evaluation, tmp_path):
    output, _ = evaluation
    settings = json.loads((output / "settings.json").read_text())
    # the task YAMLs' versions, zero-shot, and their fmops tags (the gate's safety table reads them)
    tasks = {task: {"version": 3.0, "n-shot": 0, "tags": ["demo"]} for task in DEMO_TASKS}
    assert settings == {"backend": "hf", "limit": None, "apply_chat_template": True, "tasks": tasks}
    result = cli(
        "gate",
        "--candidate",
        str(output),
        "--baseline",
        str(output),
        "--rules",
        "demo",
        "--results-dir",
        str(tmp_path / "gate"),
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "gate" / "summary").read_text() == "promote: 5 rules hold"


def test_task_data_limit_and_baseline(tmp_path, tiny_model, evaluation, demo_dir):
    data = tmp_path / "data"
    data.mkdir()
    lines = (demo_dir / "eval" / "addition.jsonl").read_text().splitlines()
    (data / "addition.jsonl").write_text("\n".join(lines[:5]) + "\n")
    shutil.copy(demo_dir / "eval" / "choice.jsonl", data / "choice.jsonl")
    out = tmp_path / "out"
    flags = ["--task-data", str(data), "--limit", "10", "--baseline", str(evaluation[0]), "--results-dir", ""]
    fmops("evaluate", "--model", str(tiny_model), "--tasks", "demo_addition,demo_choice", *flags, "--output", str(out))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["demo_addition"]["exact_match"]["samples"] == 5
    assert metrics["demo_choice"]["acc"]["samples"] == 10
    report = (out / "report.md").read_text()
    assert f"- baseline: `{evaluation[0]}`" in report
    baseline = json.loads((evaluation[0] / "metrics.json").read_text())["demo_choice"]["acc"]["value"]
    change = metrics["demo_choice"]["acc"]["value"] - baseline
    assert f"| {baseline:.4f} ± " in report and f"| {change:+.4f} |" in report
    assert json.loads((out / "settings.json").read_text())["limit"] == 10
    refused = cli("gate", "--candidate", str(out), "--baseline", str(evaluation[0]), "--rules", "demo")
    assert (refused.returncode, refused.stderr) == (
        2,
        "fmops gate: error: demo_addition: limit differs: candidate 10, "
        f"baseline null ({evaluation[0]}); evaluate both with the same "
        "settings\n",
    )


@pytest.fixture
def s3_bucket(s3_server) -> Iterator[tuple[str, dict[str, str]]]:
    """A bucket on moto's S3-compatible server on loopback, and the environment that reaches it."""
    create_bucket("fmops-eval")
    env = s3_server
    yield "fmops-eval", env


def test_s3_task_data_and_output(s3_bucket, tiny_model, demo_dir):
    import boto3

    bucket, env = s3_bucket
    s3 = boto3.client("s3")
    lines = (demo_dir / "eval" / "addition.jsonl").read_text().splitlines()
    s3.put_object(Bucket=bucket, Key="eval/addition.jsonl", Body="\n".join(lines[:4]) + "\n")
    fmops(
        "evaluate",
        "--model",
        str(tiny_model),
        "--tasks",
        "demo_addition",
        "--task-data",
        f"s3://{bucket}/eval",
        "--output",
        f"s3://{bucket}/runs/eval",
        env=env,
    )
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="runs/eval/")
    names = sorted(item["Key"].removeprefix("runs/eval/") for item in listing["Contents"])
    assert names == ["chart.png", "manifest.json", "metrics.json", "report.md", "samples.jsonl", "settings.json"]
    metrics = json.loads(s3.get_object(Bucket=bucket, Key="runs/eval/metrics.json")["Body"].read())
    assert metrics["demo_addition"]["exact_match"]["samples"] == 4
