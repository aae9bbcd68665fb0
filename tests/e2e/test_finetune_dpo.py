"""What `fmops dpo` leaves behind: reward metrics, manifest last; flags and LoRA as the template passes them."""

from __future__ import annotations

import json

import pytest

from tests.helpers import fmops

pytestmark = pytest.mark.slow
LAUNCH = ("launch", "--nodes", "1", "--gpus-per-node", "1", "--strategy", "ddp", "--")
REWARDS = ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins")


def test_demo_output_has_reward_metrics(dpo_model, sft_model):
    metrics = json.loads((dpo_model / "metrics.json").read_text())
    assert {"loss", *REWARDS, "steps"} <= set(metrics)
    assert metrics["rewards/margins"] > 0, metrics  # the policy moved towards the chosen answers
    assert metrics["rewards/accuracies"] > 0.5, metrics
    manifest = json.loads((dpo_model / "manifest.json").read_text())
    assert manifest["stage"] == "dpo" and manifest["metrics"] == metrics
    assert manifest["inputs"]["model"]["uri"] == str(sft_model)


def test_template_command_line_with_lora(sft_model, demo_dir, tmp_path):
    """The template's line: fmops launch ... -- dpo --config R --beta B --loss L --set lora=... --results-dir D."""
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join((demo_dir / "dpo.jsonl").read_text().splitlines(keepends=True)[:32]))
    output, results = tmp_path / "dpo-lora", tmp_path / "results"
    fmops(
        *LAUNCH,
        "dpo",
        "--model",
        str(sft_model),
        "--data",
        str(data),
        "--output",
        str(output),
        "--config",
        "demo",
        "--beta",
        "0.2",
        "--loss",
        "ipo",
        "--set",
        "lora=true",
        "--set",
        "max_steps=2",
        "--set",
        "logging_steps=1",
        "--results-dir",
        str(results),
    )
    metrics = json.loads((results / "metrics.json").read_text())
    assert set(REWARDS) <= set(metrics) and metrics["steps"] == 2
    config = json.loads((output / "manifest.json").read_text())["config"]
    assert (config["beta"], config["loss_type"], config["lora"]) == (0.2, "ipo", True)
    assert (output / "adapter" / "adapter_config.json").exists() and (output / "model.safetensors").exists()


def test_empty_flags_mean_not_given(sft_model, demo_dir, tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join((demo_dir / "dpo.jsonl").read_text().splitlines(keepends=True)[:16]))
    output = tmp_path / "dpo-defaults"
    fmops(
        "dpo",
        "--model",
        str(sft_model),
        "--data",
        str(data),
        "--output",
        str(output),
        "--config",
        "",
        "--beta",
        "",
        "--loss",
        "",
        "--results-dir",
        "",
        "--set",
        "max_steps=1",
    )
    config = json.loads((output / "manifest.json").read_text())["config"]
    assert (config["beta"], config["loss_type"], config["lora"]) == (0.1, "sigmoid,sft", False)
