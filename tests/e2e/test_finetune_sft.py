"""What `fmops sft` leaves behind: model, metrics, manifest, complete checkpoints; LoRA merge; resume."""

from __future__ import annotations

import json

import pytest

from tests.helpers import fmops

pytestmark = pytest.mark.slow


def small_data(demo_dir, tmp_path, count: int = 48):
    path = tmp_path / "sft-small.jsonl"
    path.write_text("".join((demo_dir / "sft.jsonl").read_text().splitlines(keepends=True)[:count]))
    return path


def test_demo_output_is_complete(sft_model, pretrained_model, demo_dir):
    names = {path.name for path in sft_model.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "chat_template.jinja",
        "metrics.json",
        "manifest.json",
        "checkpoints",
    } <= names
    metrics = json.loads((sft_model / "metrics.json").read_text())
    assert {"loss", "mean_token_accuracy", "train_loss", "steps", "num_tokens"} <= set(metrics)
    assert 0 < metrics["loss"] < 2.0, metrics  # assistant tokens of the demo are learnable well below ln(vocab)
    manifest = json.loads((sft_model / "manifest.json").read_text())
    assert manifest["stage"] == "sft"
    assert manifest["metrics"] == metrics
    assert manifest["inputs"]["model"]["uri"] == str(pretrained_model)
    assert len(manifest["inputs"]["data"][0]["sha256"]) == 64
    assert manifest["config"]["assistant_only_loss"] is True
    checkpoints = sorted(path.name for path in (sft_model / "checkpoints").iterdir())
    assert checkpoints and all(name.startswith("step-") for name in checkpoints), checkpoints
    for name in checkpoints:  # the Trainer's state, and the marker the one publication mechanism writes last
        assert (sft_model / "checkpoints" / name / "trainer_state.json").exists()
        assert (sft_model / "checkpoints" / name / "complete.json").exists()


def test_lora_merges_into_a_full_model_and_a_rerun_resumes(pretrained_model, demo_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    output, results = tmp_path / "sft-lora", tmp_path / "results"
    args = [
        "sft",
        "--model",
        str(pretrained_model),
        "--data",
        str(small_data(demo_dir, tmp_path)),
        "--output",
        str(output),
        "--set",
        "lora=true",
        "--set",
        "save_steps=2",
        "--set",
        "logging_steps=1",
        "--results-dir",
        str(results),
        "--config",
        "",
    ]
    fmops(*args, "--set", "max_steps=2")
    assert (output / "adapter" / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(str(output))  # loads as a plain model: adapter merged in
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert json.loads((results / "metrics.json").read_text())["steps"] == 2

    second = fmops(*args, "--set", "max_steps=4")
    assert f"resuming from {output}/checkpoints/step-00000002" in second.stderr
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["steps"] == 4
    assert json.loads((output / "manifest.json").read_text())["metrics"] == metrics
    assert sorted(path.name for path in (output / "checkpoints").iterdir()) == ["step-00000002", "step-00000004"]


def test_prompt_completion_data_trains_on_completions(pretrained_model, tmp_path):
    data = tmp_path / "pc.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "prompt": [{"role": "user", "content": f"What is {a}+1?"}],
                    "completion": [{"role": "assistant", "content": str(a + 1)}],
                }
            )
            + "\n"
            for a in range(10, 42)
        )
    )
    output = tmp_path / "sft-pc"
    fmops(
        "sft",
        "--model",
        str(pretrained_model),
        "--data",
        str(data),
        "--output",
        str(output),
        "--set",
        "max_steps=2",
        "--set",
        "logging_steps=1",
    )
    assert json.loads((output / "manifest.json").read_text())["metrics"]["steps"] == 2
