"""The speed settings applied to a model before training (config.py's block): tf32, the attention
implementation, Liger kernels, activation checkpointing (full or selective), torch.compile; and, on a CPU,
flushing subnormal floats. They change throughput and memory, not the losses beyond float rounding.

`speed_up` works on the bare model before `accelerator.prepare` and keeps its parameter names, so checkpoints
and the saved model do not depend on which settings a run used.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

import torch

from fmops.core.errors import InputError
from fmops.training.config import TrainConfig

# The Llama-shaped families Liger patches the same way (fused linear cross-entropy, RMSNorm, SwiGLU, RoPE).
LIGER_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3")
# Selective checkpointing keeps the outputs of these ops (the expensive ones) and recomputes everything else.
SAVED_OPS = (
    "mm",
    "addmm",
    "bmm",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_flash_attention_for_cpu",
)


def saved_ops() -> set[Any]:
    """The SAVED_OPS this torch has, as aten overloads."""
    return {getattr(torch.ops.aten, name).default for name in SAVED_OPS if hasattr(torch.ops.aten, name)}


def selective_policy(saved: set[Any], ctx: Any, op: Any, *args: Any, **kwargs: Any) -> Any:
    from torch.utils.checkpoint import CheckpointPolicy

    return CheckpointPolicy.MUST_SAVE if op in saved else CheckpointPolicy.PREFER_RECOMPUTE


def transformer_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The decoder layers (every transformers decoder layer is a GradientCheckpointingLayer)."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]


def speed_up(model: Any, config: TrainConfig, device: torch.device) -> Any:
    """Apply config's speed settings to `model` in place (parameter names unchanged); InputError when one cannot
    run here. Order matters: Liger replaces modules that checkpointing and compile then wrap."""
    config.check_installed()
    check_device(config, device)
    if device.type == "cuda" and (config.tf32 is None or config.tf32):
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if config.attn_implementation:
        model.set_attn_implementation(config.attn_implementation)
    if config.liger:
        apply_liger(model)
    if config.activation_checkpointing != "none":
        checkpoint_activations(model, selective=config.activation_checkpointing == "selective")
    if config.torch_compile:
        compile_in_place(model, config.torch_compile_scope, device)
    return model


def compiler_missing(device: torch.device) -> bool:
    """On a CPU, torch.compile builds C++ kernels: without a compiler it would fail at the first step, not here.
    Asks inductor's own compiler search, so $CXX and its settings count as they will when it compiles."""
    if device.type != "cpu":
        return False
    from torch._inductor.cpp_builder import get_cpp_compiler

    try:
        get_cpp_compiler()
    except (RuntimeError, OSError):
        return True
    return False


def check_device(config: TrainConfig, device: torch.device) -> None:
    asked = {
        "liger=true": config.liger,
        "attn_implementation=flash_attention_2": config.attn_implementation == "flash_attention_2",
    }
    for name, on in asked.items():
        if on and device.type != "cuda":
            raise InputError(f"{name}: needs a CUDA GPU; this run is on {device.type}")


def apply_liger(model: Any) -> None:
    kind = model.config.model_type
    if kind not in LIGER_MODEL_TYPES:
        raise InputError(f"liger=true: model type {kind!r} is not one of {', '.join(LIGER_MODEL_TYPES)}")
    import liger_kernel.transformers as liger

    getattr(liger, f"apply_liger_kernel_to_{kind}")(model=model)


def checkpoint_activations(model: Any, selective: bool) -> None:
    kwargs: dict[str, Any] = {"use_reentrant": False}
    if selective:
        from torch.utils.checkpoint import create_selective_checkpoint_contexts

        policy = functools.partial(selective_policy, saved_ops())
        kwargs["context_fn"] = functools.partial(create_selective_checkpoint_contexts, policy)
    model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)


def compile_in_place(model: Any, scope: str, device: torch.device) -> None:
    blocks = transformer_blocks(model) if scope == "blocks" else [model]
    if not blocks:
        raise InputError(
            f"torch_compile_scope=blocks: {type(model).__name__} has no transformer blocks to compile one by one; "
            "use torch_compile_scope=model"
        )
    if compiler_missing(device):
        print(
            "torch_compile=true: torch.compile builds CPU kernels with a C++ compiler and finds none (g++, or "
            "$CXX); training eagerly instead",
            file=sys.stderr,
        )
        return
    separate_kernel_cache(device)
    for block in blocks:
        block.compile()  # in place: the module keeps its name in the state dict (no `_orig_mod.`)


def separate_kernel_cache(device: torch.device) -> None:
    """One inductor cache folder per ATen CPU kernel set. Inductor's on-disk cache does not tell kernels built
    under one ATEN_CPU_CAPABILITY from another's (torch 2.13): on one AVX-512 machine, a process under avx2
    kernels that found the cache of an avx512 process trained on NaN losses from the first step, and one under
    avx512 after avx2 or default processes aborted with a corrupted heap. A cache shared by machines with
    different CPUs would do the same."""
    if device.type != "cpu":
        return
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    folder = f"cpu-{torch.backends.cpu.get_cpu_capability().lower()}"
    base = cache_dir()
    if os.path.basename(base) != folder:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(base, folder)


def flush_denormals(device: torch.device) -> None:
    """On a CPU, treat subnormal floats as zero (FTZ/DAZ) for this process.

    x86 arithmetic on subnormals is many times slower than on normal floats, and a model that sharpens as it
    trains produces more of them inside a step (the weights and AdamW state of the demo run hold none at step
    2000, so they come from activations and gradients, such as softmax tails): the tiny model's demo pretraining
    fell from 18.5k to 14.5k tokens/s between steps 400 and 2400, and holds 17.5k with this set. Values below
    1.2e-38 carry nothing a float32 update needs.
    """
    if device.type == "cpu":
        torch.set_flush_denormal(True)
