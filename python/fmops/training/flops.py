"""FLOPs per token and model FLOPs utilisation (MFU), against a per-GPU bf16 peak table.

    flops per token = 6·N + 12·L·H·Q·T

N: parameters (each stored tensor once, so a tied embedding/LM head counts once: its LM-head matmul is real
work), L: layers, H: attention heads, Q: head dimension, T: sequence length. 6·N is forward plus backward
of every weight matmul (2 + 4 FLOPs per weight per token); 12·L·H·Q·T is the attention scores and the
weighted sum (PaLM, Chowdhery et al. 2022, appendix B; the formula nanoGPT's `estimate_mfu` uses).

    MFU = tokens/s per device × flops per token / peak bf16 FLOP/s of that device

Peaks are dense bf16 tensor-core figures from the vendors' data sheets (no sparsity). A device not in the
table (a CPU, an unknown GPU) has no MFU: `mfu()` returns None and `mfu_note()` says why.
"""

from __future__ import annotations

from typing import Any

# Matched against the device name as torch reports it (torch.cuda.get_device_name), first match wins,
# so the more specific names come first.
PEAK_BF16_FLOPS: list[tuple[str, float]] = [
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),  # SXM, the H100 most clouds rent (p5 on AWS); PCIe and NVL are matched first
    ("H200", 989e12),
    ("H20", 148e12),
    ("GH200", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("A10G", 125e12),  # AWS g5; the A10 data sheet figure
    ("L40S", 362e12),
    ("L4", 121e12),
]


def peak_flops(device_name: str) -> float | None:
    """Dense bf16 peak FLOP/s of one device, or None when it is not a known GPU."""
    for key, peak in PEAK_BF16_FLOPS:
        if key.lower() in device_name.lower():
            return peak
    return None


def flops_per_token(parameters: int, layers: int, heads: int, head_dim: int, seq_len: int) -> float:
    """6·N + 12·L·H·Q·T (training: forward and backward)."""
    return 6 * parameters + 12 * layers * heads * head_dim * seq_len


def model_flops_per_token(model: Any, seq_len: int) -> float:
    """The formula for a transformers causal LM, reading L, H, Q from its config."""
    config = model.config
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    parameters = sum(p.numel() for p in model.parameters())
    return flops_per_token(parameters, config.num_hidden_layers, heads, head_dim, seq_len)


def mfu(tokens_per_s_per_device: float, flops_token: float, device_name: str) -> float | None:
    peak = peak_flops(device_name)
    if peak is None or tokens_per_s_per_device <= 0:
        return None
    return tokens_per_s_per_device * flops_token / peak


def mfu_note(device_name: str) -> str:
    if peak_flops(device_name) is None:
        return f"no bf16 peak for '{device_name}' in fmops.training.flops.PEAK_BF16_FLOPS, so no MFU"
    return f"against {peak_flops(device_name) / 1e12:.0f} TFLOP/s bf16 peak ({device_name})"
