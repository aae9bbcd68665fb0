"""One vocabulary for training settings: Hugging Face/TRL names in pretraining, SFT and DPO; an old key is refused
with its new name, from a recipe file or --set; every shipped recipe loads."""

from __future__ import annotations

import pytest
from fmops.core import config
from fmops.core.errors import InputError
from fmops.finetune.config import DPOStageConfig, SFTStageConfig
from fmops.training.config import RENAMED, PretrainConfig

from tests.helpers import cli

CONFIGS = {"pretrain": PretrainConfig, "sft": SFTStageConfig, "dpo": DPOStageConfig}


def test_every_new_name_is_a_field_and_no_old_name_is():
    fields = {name for cls in CONFIGS.values() for name in cls.model_fields}
    assert set(RENAMED.values()) <= fields
    assert not set(RENAMED) & fields


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED.items()))
def test_old_key_in_a_file_names_the_new_one(tmp_path, old, new):
    stage = "dpo" if old == "loss" else "pretrain"
    recipe = tmp_path / "demo.yaml"
    recipe.write_text(f"{old}: 1\n")
    with pytest.raises(InputError, match=rf"^{recipe}: field '{old}': renamed to '{new}'$"):
        config.load(CONFIGS[stage], stage, str(recipe))


@pytest.mark.parametrize("command", ["pretrain", "sft", "dpo"])
def test_old_key_on_the_command_line_is_one_line_exit_2(tmp_path, demo_dir, command):
    data = {"pretrain": "pretrain.jsonl", "sft": "sft.jsonl", "dpo": "dpo.jsonl"}[command]
    model = tmp_path / "model"
    model.mkdir()
    (model / "manifest.json").write_text("{}")
    args = ["--model", "tiny" if command == "pretrain" else str(model), "--data", str(demo_dir / data)]
    result = cli(command, *args, "--output", str(tmp_path / "out"), "--set", "lr=0.1")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"fmops {command}: error: --set lr=0.1: field 'lr': renamed to 'learning_rate'\n"
    assert not (tmp_path / "out").exists()


def test_demo_recipes_in_the_new_names():
    pretrain = config.load(PretrainConfig, "pretrain", "demo")
    assert (pretrain.max_steps, pretrain.max_length, pretrain.per_device_train_batch_size) == (1600, 128, 4)
    assert (pretrain.learning_rate, pretrain.lr_scheduler_type) == (3e-3, "warmup_stable_decay")
    assert (pretrain.save_steps, pretrain.eval_steps, pretrain.logging_steps) == (800, 800, 100)
    sft = config.load(SFTStageConfig, "sft", "8b-h100x8-lora")
    assert (sft.num_train_epochs, sft.per_device_train_batch_size, sft.bf16, sft.lora_r) == (2, 8, True, 64)
    dpo = config.load(DPOStageConfig, "dpo", "demo")
    assert (dpo.loss_type, dpo.per_device_train_batch_size) == ("sigmoid,sft", 16)


def test_tokens_budget_sets_the_steps():
    cfg = PretrainConfig(tokens=10_000, max_length=32, per_device_train_batch_size=4, gradient_accumulation_steps=2)
    assert cfg.tokens_per_step(world_size=2) == 512
    assert cfg.total_steps(world_size=2) == 20  # ceil(10000 / 512)
    assert PretrainConfig(max_steps=7).total_steps(world_size=8) == 7
