"""checkov's findings on the serving Deployments that are decisions, kept with the objects as checkov's own
skip annotations (`checkov.io/skipN: ID=reason`), so the rendered copy under argocd/addons/serving-demo/ is
exactly what the deploy step applies and every exception is explained where the object is reviewed."""

from __future__ import annotations

# By the pods' app.kubernetes.io/name. checkov splits the annotation on "=": reasons must not contain one.
SKIPS = {
    "vllm": {
        "CKV2_K8S_6": "the fmops namespace's NetworkPolicies (argocd/addons/fmops) select these pods by label",
        "CKV_K8S_8": "vLLM listens on loopback; the key gate's liveness probe reaches /health through it",
        "CKV_K8S_9": "vLLM listens on loopback; the key gate's readiness probe reaches /health through it",
        "CKV_K8S_11": "no CPU limit on purpose: throttling a GPU server's CPU stalls its batches",
        "CKV_K8S_15": "tags are pinned; the default pull policy reuses the node's copy of a 10 GB image",
        "CKV_K8S_43": "tags are pinned in python/fmops/serving/spec.py; .ci/pin.py reports images not by digest",
    },
    "epp": {
        "CKV2_K8S_6": "the fmops namespace's NetworkPolicies (argocd/addons/fmops) select these pods by label",
        "CKV_K8S_11": "no CPU limit on purpose, as upstream sizes it: the picker bursts while scheduling",
        "CKV_K8S_15": "the tag is pinned in python/fmops/serving/spec.py; the default pull policy suffices",
        "CKV_K8S_38": "the endpoint picker watches its InferencePool and the pods through the API: it needs a token",
        "CKV_K8S_43": "the tag is pinned in python/fmops/serving/spec.py; .ci/pin.py reports images not by digest",
    },
}


def annotated(obj: dict) -> dict:
    """`obj` with the skip annotations of its app (by its app.kubernetes.io/name label), if it has any."""
    metadata = obj["metadata"]
    skips = SKIPS.get((metadata.get("labels") or {}).get("app.kubernetes.io/name", ""), {})
    if not skips:
        return obj
    notes = {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(skips.items(), 1)}
    metadata["annotations"] = {**(metadata.get("annotations") or {}), **notes}
    return obj
