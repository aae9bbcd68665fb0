"""The loop's speed settings without training: defaults, the GPU recipe, refusals, and where the optimizer lives."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from accelerate import Accelerator
from fmops.core import config
from fmops.core.errors import InputError
from fmops.training import loop, speed
from fmops.training.config import PretrainConfig, TrainConfig
from fmops.training.state import StepRecord
from transformers import LlamaConfig, LlamaForCausalLM


def small_model() -> LlamaForCausalLM:
    torch.manual_seed(0)
    return LlamaForCausalLM(
        LlamaConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            vocab_size=64,
        )
    )


def test_speed_settings_are_off_by_default():
    cfg = TrainConfig()
    assert (cfg.torch_compile, cfg.activation_checkpointing, cfg.liger, cfg.attn_implementation) == (
        False,
        "none",
        False,
        None,
    )
    assert (cfg.torch_compile_scope, cfg.tf32) == ("blocks", None)


def test_gpu_recipe_turns_the_fast_path_on():
    gpu = config.load(PretrainConfig, "pretrain", "gpu")
    assert (gpu.torch_compile, gpu.torch_compile_scope, gpu.liger) == (True, "blocks", True)
    assert (gpu.attn_implementation, gpu.activation_checkpointing) == ("sdpa", "none")


def test_an_unknown_choice_is_one_line():
    with pytest.raises(InputError, match=r"^--set activation_checkpointing=some: field 'activation_checkpointing'"):
        config.load(TrainConfig, "pretrain", overrides=["activation_checkpointing=some"])


@pytest.mark.skipif(importlib.util.find_spec("liger_kernel") is not None, reason="liger-kernel is installed here")
def test_liger_without_the_package_is_refused_before_torch_work():
    with pytest.raises(InputError) as error:
        TrainConfig(liger=True).check_installed()
    assert str(error.value) == "liger=true: needs the liger-kernel package, which is not installed"


@pytest.mark.skipif(importlib.util.find_spec("flash_attn") is not None, reason="flash-attn is installed here")
def test_flash_attention_without_the_package_is_refused():
    with pytest.raises(InputError) as error:
        speed.speed_up(small_model(), TrainConfig(attn_implementation="flash_attention_2"), torch.device("cpu"))
    message = "attn_implementation=flash_attention_2: needs the flash-attn package, which is not installed"
    assert str(error.value) == message


def test_kernels_that_need_cuda_are_refused_on_cpu(monkeypatch):
    monkeypatch.setattr(TrainConfig, "check_installed", lambda self: None)  # as if the packages were installed
    for setting, name in (
        ({"liger": True}, "liger=true"),
        ({"attn_implementation": "flash_attention_2"}, "attn_implementation=flash_attention_2"),
    ):
        with pytest.raises(InputError) as error:
            speed.speed_up(small_model(), TrainConfig(**setting), torch.device("cpu"))
        assert str(error.value) == f"{name}: needs a CUDA GPU; this run is on cpu"


def test_compile_by_blocks_needs_blocks():
    with pytest.raises(InputError, match="^torch_compile_scope=blocks: Linear has no transformer blocks"):
        speed.speed_up(torch.nn.Linear(2, 2), TrainConfig(torch_compile=True), torch.device("cpu"))


def test_compile_without_a_cpu_compiler_trains_eagerly_with_a_note(monkeypatch, capsys):
    from torch._inductor import cpp_builder

    def no_compiler():
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    model = speed.speed_up(small_model(), TrainConfig(torch_compile=True), torch.device("cpu"))
    assert "finds none (g++, or $CXX); training eagerly instead" in capsys.readouterr().err
    assert not any(getattr(block, "_compiled_call_impl", None) for block in speed.transformer_blocks(model))


def test_compile_with_a_compiler_compiles_each_block(monkeypatch):
    monkeypatch.setattr(speed, "compiler_missing", lambda device: False)
    model = speed.speed_up(small_model(), TrainConfig(torch_compile=True), torch.device("cpu"))
    assert all(block._compiled_call_impl is not None for block in speed.transformer_blocks(model))


def test_selective_checkpointing_keeps_matmuls_and_recomputes_the_rest():
    from torch.utils.checkpoint import CheckpointPolicy

    saved = speed.saved_ops()
    assert torch.ops.aten.mm.default in saved
    assert speed.selective_policy(saved, None, torch.ops.aten.mm.default) == CheckpointPolicy.MUST_SAVE
    assert speed.selective_policy(saved, None, torch.ops.aten.mul.Tensor) == CheckpointPolicy.PREFER_RECOMPUTE


def test_the_optimizer_is_built_on_the_prepared_model():
    accelerator = Accelerator(cpu=True)
    cfg = TrainConfig(gradient_accumulation_steps=3, max_steps=5)
    model, optimizer, scheduler = loop.prepare(small_model(), cfg, accelerator)
    held = [p for group in optimizer.optimizer.param_groups for p in group["params"]]
    assert {id(p) for p in held} == {id(p) for p in model.parameters()}
    assert type(optimizer.optimizer) is torch.optim.AdamW
    assert not optimizer.optimizer.defaults["fused"]  # fused only on CUDA: the CPU numbers were made with foreach
    assert [g["weight_decay"] for g in optimizer.optimizer.param_groups] == [cfg.weight_decay, 0.0]
    assert accelerator.gradient_accumulation_steps == 3  # what accumulate() counts micro-batches by
    assert scheduler.optimizer is optimizer.optimizer


def test_losses_are_read_back_in_one_batch():
    accelerator = Accelerator(cpu=True)
    records = [
        StepRecord(
            step=1, lr=0.1, tokens=8, first=True, pending_loss=torch.tensor(1.5), pending_grad_norm=torch.tensor(0.25)
        ),
        StepRecord(step=2, lr=0.1, tokens=8, first=False, pending_loss=torch.tensor(2.0)),
    ]
    pending = list(records)
    loop.read_back(pending, accelerator)
    assert [(r.loss, r.grad_norm) for r in records] == [(1.5, 0.25), (2.0, None)] and pending == []
    assert all(r.read and r.pending_loss is None and r.pending_grad_norm is None for r in records)
    assert records[1].as_dict() == {
        "loss": 2.0,
        "lr": 0.1,
        "grad_norm": None,
        "step": 2,
        "tokens": 8,
        "first": False,
        "seconds": 0.0,
    }


def test_a_record_not_read_back_is_not_written():
    with pytest.raises(ValueError, match="step 3: its loss has not been read back"):
        StepRecord(step=3, lr=0.1, tokens=8, first=False, pending_loss=torch.tensor(1.0)).as_dict()


def test_deepspeed_auto_values_come_from_the_config():
    deepspeed = {"train_micro_batch_size_per_gpu": "auto", "gradient_clipping": "auto", "zero_optimization": {}}
    loop.fill_deepspeed(deepspeed, TrainConfig(per_device_train_batch_size=6, max_grad_norm=0.5))
    assert (deepspeed["train_micro_batch_size_per_gpu"], deepspeed["gradient_clipping"]) == (6, 0.5)
    fixed = {"train_micro_batch_size_per_gpu": 2, "gradient_clipping": 1.0}
    loop.fill_deepspeed(fixed, TrainConfig(per_device_train_batch_size=6))
    assert fixed == {"train_micro_batch_size_per_gpu": 2, "gradient_clipping": 1.0}  # a number there is kept


def subnormal_survives() -> bool:
    return torch.tensor([1e-40], dtype=torch.float32).mul(1.0).item() != 0.0


@pytest.fixture
def gradual_underflow():
    """IEEE gradual underflow for the test (an earlier in-process training run may have flushed), then as before."""
    flushed_before = not subnormal_survives()
    torch.set_flush_denormal(False)
    yield
    torch.set_flush_denormal(flushed_before)


def test_training_on_a_cpu_flushes_subnormal_floats(gradual_underflow):
    assert subnormal_survives()
    speed.flush_denormals(torch.device("meta"))
    assert subnormal_survives()  # only a CPU run changes the process's float mode
    speed.flush_denormals(torch.device("cpu"))
    assert not subnormal_survives()


class Device:
    """What the log line reads of accelerate's Accelerator."""

    device, num_processes = torch.device("cpu"), 2


def test_the_log_line_shows_mfu_only_where_the_peak_is_known_and_the_peak_memory(monkeypatch):
    recent = [StepRecord(step, lr=3e-3, tokens=1000, first=False, loss=2.5, seconds=0.5) for step in (9, 10)]
    line = loop.progress_line(10, 20, recent, 1e9, Device())
    assert line.startswith("step 10/20 loss 2.5000 lr 3.00e-03 2,000 tokens/s peak memory ")
    assert line.endswith(" GiB (process peak RSS)") and "mfu" not in line  # a CPU has no peak in flops.py
    monkeypatch.setattr(loop.metrics, "device_name", lambda device: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(loop.metrics, "peak_memory", lambda device: (12.25, "cuda_max_memory_allocated"))
    line = loop.progress_line(10, 20, recent, 1e9, Device())
    # 1,000 tokens/s per device x 1e9 FLOPs per token against the H100's 989 TFLOP/s
    assert line.endswith("2,000 tokens/s mfu 0.1% peak memory 12.25 GiB (CUDA max allocated)")
    line = loop.progress_line(10, 20, recent, 1e11, Device())
    assert " mfu 10.1% " in line
