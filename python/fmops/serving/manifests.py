"""The core Kubernetes objects of a serving rollout, generated from a ServingSpec: the workload and its Service.

The workload runs the official vLLM image: a Deployment, or for a model that needs several nodes per replica
a LeaderWorkerSet (python/fmops/serving/leaderworkerset.py). An init container copies the model version from
S3 into an emptyDir (the pod's service account `fmops-serving` may only read the bucket), then vLLM serves it
under the rollout's name on loopback. The only port reachable from outside the pod is the key gate's
(`fmops key-gate`): every route but `/health` and `/metrics` needs the API key, which it reads from the
Secret `fmops-serving-api-key` (key `api-key`, mounted as a file), so vLLM's routes outside `/v1` are keyed as
well. Every container runs as a non-root user with no capabilities and a read-only root filesystem
(PodSecurity `restricted`; caches and /tmp are emptyDirs). GPU pods land on the
`gpu-serve` Karpenter NodePool and tolerate its taint. A rollout surges one new pod and removes no old one
before the new one is ready, so a model that never becomes ready leaves the previous one serving.
"""

from __future__ import annotations

from fmops.serving.spec import AWS_CLI_IMAGE, BACKEND_PORT, ServingSpec

MODEL_DIR = "/models/current"
CACHE_DIR = "/cache"
KEY_DIR = "/etc/fmops/api-key"
# Both images run as root by default; this uid owns nothing in them and needs only the emptyDirs.
RUN_AS = 10001


def pod_security_context() -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True}


def engine_args(
    model: str, served_name: str, listen: list[str], *, gpus: int = 1, nodes: int = 1, max_model_len: int = 0
) -> list[str]:
    """vLLM's arguments as both the cluster's pods and `fmops serve --engine vllm` pass them: the model, the
    name clients ask for, where to listen, the parallelism, the context length."""
    args = [model, "--served-model-name", served_name, *listen, "--tensor-parallel-size", str(gpus)]
    if nodes > 1:
        args += ["--pipeline-parallel-size", str(nodes), "--distributed-executor-backend", "ray"]
    if max_model_len:
        args += ["--max-model-len", str(max_model_len)]
    return args


def vllm_args(spec: ServingSpec) -> list[str]:
    listen = ["--host", "127.0.0.1", "--port", str(BACKEND_PORT)]
    args = engine_args(MODEL_DIR, spec.name, listen, gpus=spec.gpus, nodes=spec.nodes, max_model_len=spec.max_model_len)
    return args + list(spec.extra_args)


def probe(spec: ServingSpec, period_s: int, failures: int) -> dict:
    return {
        "httpGet": {"path": "/health", "port": "http"},
        "periodSeconds": period_s,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def model_sync_container(spec: ServingSpec) -> dict:
    return {
        "name": "model-sync",
        "image": AWS_CLI_IMAGE,
        "command": [
            "aws",
            "s3",
            "sync",
            "--only-show-errors",
            "--exclude",
            "checkpoints/*",
            spec.model_uri.rstrip("/") + "/",
            MODEL_DIR,
        ],
        "env": [{"name": "HOME", "value": CACHE_DIR}],
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "models", "mountPath": "/models"},
            {"name": "cache", "mountPath": CACHE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def gpu_resources(spec: ServingSpec) -> dict:
    gpus = str(spec.gpus)
    return {
        "requests": {"cpu": spec.cpu, "memory": spec.memory, "nvidia.com/gpu": gpus},
        "limits": {"memory": spec.memory, "nvidia.com/gpu": gpus},
    }


def vllm_env(spec: ServingSpec) -> list[dict]:
    """No API key: vLLM listens on loopback and the key gate, which checks it, drops the Authorization header."""
    return [
        {"name": "HF_HUB_OFFLINE", "value": "1"},
        # vLLM, torch.compile, Triton and Ray keep their caches under $HOME: a writable emptyDir.
        {"name": "HOME", "value": CACHE_DIR},
        # The uid has no passwd entry; torch names its compile cache after $USER.
        {"name": "USER", "value": "vllm"},
    ]


def vllm_container(spec: ServingSpec, command: list[str] | None = None) -> dict:
    """vLLM itself, on loopback: `vllm serve` (explicit, whatever the image's entrypoint of the day), or
    `command` followed by vLLM's arguments (the leader of a multi-node group starts Ray first)."""
    return {
        "name": "vllm",
        "image": spec.image,
        "command": command or ["vllm", "serve"],
        "args": vllm_args(spec),
        "env": vllm_env(spec),
        "resources": gpu_resources(spec),
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "models", "mountPath": "/models"},
            {"name": "shm", "mountPath": "/dev/shm"},
            {"name": "cache", "mountPath": CACHE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def key_gate_container(spec: ServingSpec) -> dict:
    """The pod's only open port: checks the key on every route but /health and /metrics, forwards to vLLM.
    The probes go through it, so a pod is ready only when both answer."""
    return {
        "name": "key-gate",
        "image": spec.gate_image,
        "command": ["fmops", "key-gate"],
        "args": [
            "--port",
            str(spec.port),
            "--upstream",
            f"http://127.0.0.1:{BACKEND_PORT}",
            "--api-key-file",
            f"{KEY_DIR}/api-key",
        ],
        "volumeMounts": [{"name": "api-key", "mountPath": KEY_DIR, "readOnly": True}],
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        # Loading a large model takes minutes: the startup probe allows up to 30 min before liveness counts.
        "startupProbe": probe(spec, period_s=10, failures=180),
        "readinessProbe": probe(spec, period_s=5, failures=3),
        "livenessProbe": probe(spec, period_s=15, failures=4),
        "securityContext": container_security_context(),
    }


def pod_spec(spec: ServingSpec, containers: list[dict]) -> dict:
    """A GPU serving pod on the gpu-serve pool: the model synced into an emptyDir first, then `containers`."""
    return {
        "serviceAccountName": spec.service_account,
        # The pods never call the Kubernetes API (EKS Pod Identity mounts its own token for S3).
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(),
        "nodeSelector": {"karpenter.sh/nodepool": spec.node_pool},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "terminationGracePeriodSeconds": 60,
        "initContainers": [model_sync_container(spec)],
        "containers": containers,
        "volumes": [
            {"name": "models", "emptyDir": {}},
            {"name": "cache", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {}},
            {
                "name": "api-key",
                "projected": {"defaultMode": 0o440, "sources": [{"secret": {"name": spec.api_key_secret}}]},
            },
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}},
        ],
    }


def deployment(spec: ServingSpec) -> dict:
    body: dict = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": spec.metadata(),
        "spec": {
            "selector": {"matchLabels": spec.labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "progressDeadlineSeconds": spec.progress_deadline_s,
            "template": {
                "metadata": {"labels": spec.all_labels},
                "spec": pod_spec(spec, [key_gate_container(spec), vllm_container(spec)]),
            },
        },
    }
    if not spec.autoscaled:  # with KEDA the HPA owns replicas; applying them here would fight it
        body["spec"]["replicas"] = spec.replicas
    return body


def service(spec: ServingSpec) -> dict:
    """The plain Service the in-cluster smoke test and the ServiceMonitor use (the Gateway uses the pool)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": spec.metadata(),
        "spec": {
            "type": "ClusterIP",
            "selector": spec.serving_labels,
            "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def service_url(spec: ServingSpec) -> str:
    """The in-cluster OpenAI base URL of the rollout."""
    return f"http://{spec.name}.{spec.namespace}.svc.cluster.local:{spec.port}/v1"
