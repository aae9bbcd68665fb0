"""The settings of `fmops evaluate` (defaults, then --config FILE, then --set key=value)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fmops.core.config import StageConfig


class EvaluateConfig(StageConfig):
    """Every setting of `fmops evaluate`; override with --config FILE or --set key=value."""

    tasks: str = Field("demo", description="comma-separated task names or tags (demo = the three demo tasks)")
    limit: int | None = Field(None, description="evaluate at most this many documents per task")
    batch_size: int = Field(64, description="in-process batch size (generous: the tiny model is small)")
    apply_chat_template: bool = Field(True, description="chat-format prompts with the model's template")
    num_fewshot: int | None = Field(None, description="few-shot examples (None: each task's default)")
    num_concurrent: int = Field(8, description="concurrent requests against an endpoint")
    max_retries: int = Field(3, description="retries per endpoint request before giving up")
    timeout_s: int = Field(120, description="seconds per endpoint request")
    bootstrap_iters: int = Field(1000, description="bootstrap resamples for non-mean stderrs")
    device: str | None = Field(None, description="torch device for --model (None: cuda if present)")
    cpu_threads: int | None = Field(1, description="torch threads on CPU (null: torch's default; see harness)")
    backend: Literal["auto", "hf", "vllm"] = Field(
        "auto", description="in-process harness model for --model: auto = vllm if installed and a GPU is seen, else hf"
    )
    tokenizer: str = Field(
        "",
        description="--endpoint with log-likelihood tasks: the served model's tokenizer directory ('' = the served "
        "model id, which `fmops serve` makes the model directory)",
    )
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="share of each GPU's memory vLLM may take (backend vllm)"
    )
