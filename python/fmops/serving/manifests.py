"""The core Kubernetes objects of a serving rollout, generated from a ServingSpec: Deployment, Service.

The Deployment runs the official vLLM image. An init container copies the model version from S3 into
an emptyDir (the pod's service account `fmops-serving` may only read the bucket), then vLLM serves it
under the rollout's name. The API key comes from the Secret `fmops-serving-api-key` (key `api-key`)
through VLLM_API_KEY. GPU pods land on the `gpu-serve` Karpenter NodePool and tolerate its taint.
A rollout surges one new pod and removes no old one before the new one is ready, so a model that
never becomes ready leaves the previous one serving.
"""

from __future__ import annotations

from fmops.serving.spec import AWS_CLI_IMAGE, ServingSpec

MODEL_DIR = "/models/current"


def vllm_args(spec: ServingSpec) -> list[str]:
    args = [
        MODEL_DIR,
        "--served-model-name",
        spec.name,
        "--host",
        "0.0.0.0",
        "--port",
        str(spec.port),
        "--tensor-parallel-size",
        str(spec.gpus),
    ]
    if spec.max_model_len:
        args += ["--max-model-len", str(spec.max_model_len)]
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
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "volumeMounts": [{"name": "models", "mountPath": "/models"}],
    }


def vllm_container(spec: ServingSpec) -> dict:
    gpus = str(spec.gpus)
    return {
        "name": "vllm",
        "image": spec.image,
        "command": ["vllm", "serve"],  # explicit, whatever the image's entrypoint of the day
        "args": vllm_args(spec),
        "env": [
            {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": spec.api_key_secret, "key": "api-key"}}},
            {"name": "HF_HUB_OFFLINE", "value": "1"},
        ],
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": spec.cpu, "memory": spec.memory, "nvidia.com/gpu": gpus},
            "limits": {"memory": spec.memory, "nvidia.com/gpu": gpus},
        },
        # Loading a large model takes minutes: the startup probe allows up to 30 min before liveness counts.
        "startupProbe": probe(spec, period_s=10, failures=180),
        "readinessProbe": probe(spec, period_s=5, failures=3),
        "livenessProbe": probe(spec, period_s=15, failures=4),
        "volumeMounts": [{"name": "models", "mountPath": "/models"}, {"name": "shm", "mountPath": "/dev/shm"}],
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
                "spec": {
                    "serviceAccountName": spec.service_account,
                    "nodeSelector": {"karpenter.sh/nodepool": spec.node_pool},
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                    "terminationGracePeriodSeconds": 60,
                    "initContainers": [model_sync_container(spec)],
                    "containers": [vllm_container(spec)],
                    "volumes": [
                        {"name": "models", "emptyDir": {}},
                        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}},
                    ],
                },
            },
        },
    }
    if not spec.autoscaled:  # with KEDA the HPA owns replicas; applying them here would fight it
        body["spec"]["replicas"] = spec.replicas
    return body


def service(spec: ServingSpec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": spec.metadata(),
        "spec": {
            "type": "ClusterIP",
            "selector": spec.labels,
            "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def service_url(spec: ServingSpec) -> str:
    """The in-cluster OpenAI base URL of the rollout."""
    return f"http://{spec.name}.{spec.namespace}.svc.cluster.local:{spec.port}/v1"


def all_manifests(spec: ServingSpec) -> list[dict]:
    """Every object of a rollout, in apply order: the Deployment last, once what watches it exists."""
    from fmops.serving import monitoring

    objects = [
        service(spec),
        monitoring.service_monitor(spec),
        monitoring.prometheus_rule(spec),
        monitoring.dashboard_configmap(spec),
    ]
    if spec.autoscaled:
        objects.append(monitoring.scaled_object(spec))
    return [*objects, deployment(spec)]
