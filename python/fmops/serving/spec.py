"""What a serving rollout is: one dataclass every manifest is generated from."""

from __future__ import annotations

from dataclasses import dataclass, field

# The official vLLM OpenAI-compatible server image, pinned. Its tag follows vLLM's PyPI release; bump it
# together with tests/unit/serving/test_vllm_release.py, which lists the metric names and `vllm serve` flags
# this package uses as that release defines them.
VLLM_IMAGE = "vllm/vllm-openai:v0.33.0"
# Syncs the model from S3 into the pod before vLLM starts (read-only role of the fmops-serving account).
AWS_CLI_IMAGE = "amazon/aws-cli:2.32.8"
PROMETHEUS_URL = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090"
# The endpoint picker of the Gateway API Inference Extension: v1.5.0 is its last release from that project
# (v1.6.0 moved it to llm-d); it speaks the InferencePool v1 API the v1.6.0 CRD serves.
EPP_IMAGE = "registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0"
# The key gate in front of vLLM runs `fmops key-gate` from the eval image (fmops with its serve extras).
GATE_IMAGE = "ghcr.io/fmops/fmops-eval:0.1.0"
# vLLM listens on loopback here; only the key gate on `port` is reachable from outside the pod.
BACKEND_PORT = 8001
# The label LeaderWorkerSet puts on every pod of a group: 0 is the leader, the one that serves HTTP.
WORKER_INDEX = "leaderworkerset.sigs.k8s.io/worker-index"


@dataclass(kw_only=True)
class ServingSpec:
    """One model behind vLLM in the cluster."""

    name: str
    """Kubernetes name of the Deployment/Service and the model id clients use (`--served-model-name`)."""
    model_uri: str
    """s3:// URI of the model version directory (HF format) in the registry."""
    version: str
    """Registry version, recorded as a label so `kubectl get pods` shows what is serving."""
    namespace: str = "fmops"
    image: str = VLLM_IMAGE
    gpus: int = 1
    """GPUs per node of a replica; vLLM's tensor parallel size."""
    nodes: int = 1
    """Nodes per replica: above 1, a LeaderWorkerSet of that group size (vLLM's pipeline parallel size) replaces
    the Deployment."""
    replicas: int = 1
    max_replicas: int = 0
    """Above `replicas`: a KEDA ScaledObject scales between them on queue depth; 0: no autoscaling."""
    queue_per_replica: int = 4
    """KEDA target: waiting requests per replica before adding one."""
    port: int = 8000
    max_model_len: int = 0
    """vLLM --max-model-len; 0: the model's own."""
    extra_args: list[str] = field(default_factory=list)
    cpu: str = "4"
    memory: str = "32Gi"
    service_account: str = "fmops-serving"
    api_key_secret: str = "fmops-serving-api-key"
    node_pool: str = "gpu-serve"
    progress_deadline_s: int = 1800
    prometheus_url: str = PROMETHEUS_URL
    gateway: str = "fmops-inference"
    """The Gateway (argocd/addons/inference-gateway) the HTTPRoute attaches the model's InferencePool to."""
    gateway_namespace: str = "fmops-gateway"
    epp_image: str = EPP_IMAGE
    epp_service_account: str = "fmops-epp"
    gate_image: str = GATE_IMAGE

    @property
    def labels(self) -> dict[str, str]:
        """Selector labels (stable across versions, so a rollout replaces pods in place)."""
        return {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": self.name}

    @property
    def all_labels(self) -> dict[str, str]:
        return {**self.labels, "app.kubernetes.io/part-of": "fmops", "fmops.dev/model-version": self.version}

    @property
    def multi_node(self) -> bool:
        return self.nodes > 1

    @property
    def workload_kind(self) -> str:
        return "LeaderWorkerSet" if self.multi_node else "Deployment"

    @property
    def serving_labels(self) -> dict[str, str]:
        """The pods that answer HTTP: every replica's pod, or with several nodes only each group's leader."""
        return {**self.labels, WORKER_INDEX: "0"} if self.multi_node else self.labels

    @property
    def epp_name(self) -> str:
        return f"{self.name}-epp"

    @property
    def autoscaled(self) -> bool:
        return self.max_replicas > self.replicas

    def metadata(self, name: str | None = None) -> dict:
        return {"name": name or self.name, "namespace": self.namespace, "labels": self.all_labels}
