"""SFT and DPO settings become TRL's own SFTConfig/DPOConfig: our TRL-named fields and any other TRL field pass
straight through, fmops' own stay behind, and a value TRL refuses is one InputError line."""

from __future__ import annotations

from pathlib import Path

import pytest
from fmops.core import config
from fmops.core.errors import InputError
from fmops.finetune.config import DPOStageConfig, SFTStageConfig

pytest.importorskip("trl")
MESSAGES = [{"messages": [{"role": "user", "content": "1+2?"}, {"role": "assistant", "content": "3"}]}]


def test_sft_fields_pass_straight_to_trl(tmp_path):
    from fmops.finetune import trainer as runner

    cfg = config.load(SFTStageConfig, "sft", "demo", ["adam_beta2=0.98", "lora=true"])
    args = runner.trl_config(cfg, MESSAGES, tmp_path)
    assert type(args).__name__ == "SFTConfig"
    assert (args.num_train_epochs, args.per_device_train_batch_size, args.learning_rate) == (2, 8, 1e-3)
    assert (args.logging_steps, args.save_steps, args.adam_beta2) == (20, 200, 0.98)  # adam_beta2: a TRL field
    assert args.warmup_steps == 0.05 and args.gradient_checkpointing is False and args.bf16 is False  # on CPU
    assert args.assistant_only_loss is True  # messages data
    assert args.save_total_limit is None  # fmops keeps the published checkpoints itself
    assert Path(args.output_dir) == tmp_path / "checkpoints" / ".incomplete"
    assert not hasattr(args, "lora_r") and not hasattr(args, "cpu_threads")


def test_dpo_loss_terms_become_trl_list(tmp_path):
    from fmops.finetune import trainer as runner

    args = runner.trl_config(config.load(DPOStageConfig, "dpo", "demo"), [], tmp_path)
    assert type(args).__name__ == "DPOConfig"
    assert (args.beta, args.loss_type, args.max_length) == (0.1, ["sigmoid", "sft"], 64)


def test_a_value_trl_refuses_is_one_line(tmp_path):
    from fmops.finetune import trainer as runner

    cfg = config.load(SFTStageConfig, "sft", "demo", ["logging_strategy=sometimes"])
    with pytest.raises(InputError, match=r"^SFTConfig: sometimes is not a valid IntervalStrategy, please select "):
        runner.trl_config(cfg, MESSAGES, tmp_path)


def test_dpo_loss_weights_follow_the_loss_terms_or_are_dropped_with_a_note(capsys):
    from fmops.core import config as loading
    from fmops.finetune.config import DPOStageConfig

    demo = loading.load(DPOStageConfig, "dpo", "demo")
    assert demo.trl_overrides([]) == {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 2.0]}
    assert capsys.readouterr().err == ""
    ipo = demo.model_copy(update={"loss_type": "ipo"})
    assert ipo.trl_overrides([]) == {"loss_type": ["ipo"], "loss_weights": None}
    assert "training with equal weights" in capsys.readouterr().err
