"""The multi-node variant of the serving workload: a LeaderWorkerSet (`leaderworkerset.x-k8s.io/v1`).

A model too large for one node's GPUs (a 70B model on the gpu-serve pool's 8 x 48 GB nodes) is served by a
group of `nodes` pods per replica: vLLM pipeline-parallel across them (`--pipeline-parallel-size nodes`,
tensor-parallel within each node), on Ray. The leader starts the Ray head and `vllm serve`, which waits for
the workers' GPUs to join; each worker joins the leader's Ray cluster (LWS gives it the leader's address in
LWS_LEADER_ADDRESS). Every pod syncs the model first: each loads its own pipeline stage from local disk. Only
the leader (worker index 0) serves HTTP, behind the key gate; the Service and the InferencePool select it.
A group is created, restarted and replaced as a whole; an update surges one new group and keeps every old
group until its replacement is ready, as the Deployment does.
"""

from __future__ import annotations

from fmops.serving.manifests import key_gate_container, pod_spec, vllm_container
from fmops.serving.spec import ServingSpec

RAY_PORT = 6379
# vLLM's arguments follow as "$@": they never pass through the shell as text.
LEADER = f'ray start --head --port={RAY_PORT} --disable-usage-stats && exec vllm serve "$@"'
WORKER = f'exec ray start --address="$LWS_LEADER_ADDRESS:{RAY_PORT}" --disable-usage-stats --block'


def leader_pod(spec: ServingSpec) -> dict:
    vllm = vllm_container(spec, command=["/bin/sh", "-c", LEADER, "vllm-leader"])
    return pod_spec(spec, [key_gate_container(spec), vllm])


def worker_pod(spec: ServingSpec) -> dict:
    ray = vllm_container(spec, command=["/bin/sh", "-c", WORKER])
    ray["name"] = "ray-worker"
    ray.pop("args")
    return pod_spec(spec, [ray])


def leader_worker_set(spec: ServingSpec) -> dict:
    body: dict = {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "metadata": spec.metadata(),
        "spec": {
            "startupPolicy": "LeaderCreated",
            "rolloutStrategy": {
                "type": "RollingUpdate",
                "rollingUpdateConfiguration": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "leaderWorkerTemplate": {
                "size": spec.nodes,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {"metadata": {"labels": spec.all_labels}, "spec": leader_pod(spec)},
                "workerTemplate": {"metadata": {"labels": spec.all_labels}, "spec": worker_pod(spec)},
            },
        },
    }
    if not spec.autoscaled:  # with KEDA the HPA owns replicas, as for the Deployment
        body["spec"]["replicas"] = spec.replicas
    return body
