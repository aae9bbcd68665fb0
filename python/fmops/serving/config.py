"""The settings of `fmops deploy` and `fmops monitor` (defaults, then --config FILE, then --set key=value)."""

from __future__ import annotations

from pydantic import Field

from fmops.core.config import StageConfig


class DeployConfig(StageConfig):
    image: str = Field("", description="vLLM image; empty: the pinned official one")
    gpus: int = Field(1, ge=1, description="GPUs per node of a replica (tensor parallel size)")
    nodes: int = Field(1, ge=1, description="nodes per replica; > 1: a LeaderWorkerSet (pipeline parallel size)")
    replicas: int = Field(1, ge=1, description="replicas (the minimum when autoscaling)")
    max_replicas: int = Field(0, ge=0, description="> replicas: KEDA autoscaling on queue depth")
    queue_per_replica: int = Field(4, ge=1, description="KEDA target of waiting requests per replica")
    max_model_len: int = Field(0, ge=0, description="vLLM --max-model-len; 0: the model's")
    extra_args: list[str] = Field(default_factory=list, description="more vLLM arguments")
    cpu: str = Field("4", description="CPU request per replica")
    memory: str = Field("32Gi", description="memory request and limit per replica")
    smoke_requests: int = Field(4, ge=1, description="requests in the smoke test's load run")
    smoke_concurrency: int = Field(2, ge=1, description="their concurrency")
    request_timeout: float = Field(60.0, gt=0, description="deadline per smoke request, s")
    local_threads: int = Field(
        1,
        ge=0,
        description="torch threads of the local server (0: torch's "
        "default); 1 serves the tiny demo model ~10x faster on 2 shared cores",
    )
    smoke_connect_s: float = Field(60.0, ge=0, description="how long the smoke test retries connecting, s")


class MonitorConfig(StageConfig):
    quality_drop: float = Field(0.05, ge=0, description="largest allowed drop of any task/metric")
    latency_increase: float = Field(0.5, ge=0, description="largest allowed relative latency growth")
    max_errors: int = Field(0, ge=0, description="failed latency requests allowed")
    window: int = Field(5, ge=1, description="records of the same model the reference averages")
    limit: int | None = Field(None, ge=1, description="documents per task (None: all)")
    latency_requests: int = Field(8, ge=1, description="requests of the latency run")
    latency_concurrency: int = Field(2, ge=1, description="their concurrency")
    output_len: int = Field(16, ge=1, description="max_tokens per latency request")
    request_timeout: float = Field(60.0, gt=0, description="deadline per latency request, s")
