"""The loop's speed settings change speed, not results: 20 steps of the tiny model on the demo data, per-step
losses against the plain loop's.

Measured on CPU (torch 2.13, 2 threads), largest difference over the 20 steps, losses about 5.7 -> 2.5:
activation checkpointing full and selective 0.0 (bitwise: the recomputation repeats the same kernels); the
logging change 0.0 (the losses are the same tensors, read later); torch.compile 2.4e-7 (blocks) and 4.8e-7
(whole model), relative 1.5e-7 (inductor fuses the elementwise ops and rounds differently); gradient accumulation
2 x 4 sequences against 1 x 8: 4.8e-7. The tolerance, relative 1e-5, is 60x the largest of these and far below
what any real change of the computation moves (one different batch changes the loss by about 1e-1).
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from fmops.training import loop
from fmops.training.config import TrainConfig
from fmops.training.sampling import Stream
from fmops.training.trainer import accelerator_for

pytestmark = pytest.mark.slow

STEPS, LENGTH, BATCH = 20, 32, 8
TOLERANCE = 1e-5  # relative; see the module docstring for what was measured
CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def blocks(demo_dir) -> torch.Tensor:
    from fmops.models import tiny

    texts = [json.loads(line)["text"] for line in (demo_dir / "pretrain.jsonl").read_text().splitlines()]
    tokenizer = tiny.build_tokenizer(texts)
    ids = [i for text in texts for i in [*tokenizer(text)["input_ids"], tokenizer.eos_token_id]]
    usable = len(ids) // LENGTH * LENGTH
    return torch.tensor(ids[:usable]).view(-1, LENGTH)


def losses(blocks: torch.Tensor, **settings) -> tuple[list[float], dict]:
    from fmops.models import tiny
    from transformers import LlamaConfig, LlamaForCausalLM

    torch._dynamo.reset()  # each run compiles afresh, as a new process would
    cfg = TrainConfig(
        **{
            "max_steps": STEPS,
            "max_length": LENGTH,
            "per_device_train_batch_size": BATCH,
            "save_steps": 0,
            "eval_steps": 0,
            "logging_steps": 5,
            **settings,
        }
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=512, **tiny.TINY_CONFIG))
    trained, state = loop.train(model, Stream(blocks, seed=0), cfg, accelerator_for(cfg))
    assert [h.step for h in state.history] == list(range(1, STEPS + 1))
    return [h.loss for h in state.history], {"state": state, "model": trained}


@pytest.fixture(scope="module")
def plain_run(blocks) -> tuple[list[float], dict]:
    return losses(blocks)


@pytest.fixture(scope="module")
def plain(plain_run) -> list[float]:
    return plain_run[0]


def test_the_plain_loop_learns_and_records_its_optimizer(plain, plain_run):
    assert plain[0] > 5 and plain[-1] < plain[0] - 2  # a comparison of flat curves would prove little
    state = plain_run[1]["state"]
    assert (state.optimizer, state.fused) == ("AdamW", CUDA)  # fused AdamW where there is CUDA


def assert_close(found: list[float], expected: list[float]) -> None:
    assert found == pytest.approx(expected, rel=TOLERANCE)


@pytest.mark.parametrize(
    "settings",
    [
        {"activation_checkpointing": "full"},
        {"activation_checkpointing": "selective"},
        {"logging_steps": 7},  # read back every 7 steps instead of 5; 20 is no multiple of 7: the last at the end
    ],
)
def test_eager_settings_give_the_same_losses(blocks, plain, settings):
    found, _ = losses(blocks, **settings)
    assert found == plain  # bitwise: the same kernels, or the same tensors read at another time


@pytest.mark.parametrize(
    "settings",
    [
        {"torch_compile": True},
        {"torch_compile": True, "activation_checkpointing": "selective"},
        {"torch_compile": True, "torch_compile_scope": "model"},
    ],
)
def test_compiled_losses_equal_the_plain_loops(blocks, plain, settings):
    found, run = losses(blocks, **settings)
    assert_close(found, plain)
    assert "model.layers.0.self_attn.q_proj.weight" in run["model"].state_dict()  # compiled in place: no _orig_mod


def test_gradient_accumulation_of_half_batches_equals_one_full_batch(blocks, plain):
    found, _ = losses(blocks, per_device_train_batch_size=BATCH // 2, gradient_accumulation_steps=2)
    assert_close(found, plain)
    assert found != plain  # really accumulated: two half batches do not round like one full one


@pytest.mark.skipif(
    not CUDA or importlib.util.find_spec("liger_kernel") is None,
    reason="Liger's Triton kernels need a CUDA GPU and the liger-kernel package",
)
def test_liger_gives_the_same_losses(blocks, plain):
    found, _ = losses(blocks, liger=True)
    assert found == pytest.approx(plain, rel=1e-3)  # bf16 on a GPU: a looser bound, to be set from a measurement


@pytest.mark.skipif(
    not CUDA or importlib.util.find_spec("flash_attn") is None,
    reason="flash_attention_2 needs a CUDA GPU and the flash-attn package",
)
def test_flash_attention_gives_the_same_losses(blocks, plain):
    found, _ = losses(blocks, attn_implementation="flash_attention_2")
    assert found == pytest.approx(plain, rel=1e-3)
