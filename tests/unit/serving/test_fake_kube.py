"""The fake Kubernetes API (fake_kube.py) against the real kubernetes client: apply, read, delete, and the
pod reason of a Deployment that never becomes ready."""

from __future__ import annotations

import pytest

from tests.unit.serving.fake_kube import APPLY, CRASH


def test_the_kubernetes_client_applies_reads_and_deletes_through_the_fake(fake):
    from fmops.core.kube import connect
    from fmops.serving import rollout

    kube = fake()
    cluster = rollout.Cluster(connect(), "fmops")
    assert cluster.read_deployment("demo") is None
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "demo", "namespace": "fmops"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "vllm", "image": "vllm"}]},
            },
        },
    }
    cluster.apply(body)
    cluster.apply(body)  # same spec: same generation
    read = cluster.read_deployment("demo")
    assert read["metadata"]["generation"] == 1 and rollout.rollout_complete(read)
    patch = [r for r in kube.requests if r["method"] == "PATCH"][0]
    assert patch["content_type"] == APPLY
    assert patch["query"] == {"fieldManager": "fmops-deploy", "force": "true"}
    cluster.delete_deployment("demo")
    assert kube.deployment("demo") is None


def test_a_deployment_that_is_not_ready_reports_its_pod_reason(fake):
    from fmops.core.kube import connect
    from fmops.serving import rollout
    from fmops.serving.manifests import deployment
    from fmops.serving.spec import ServingSpec

    fake(ready=lambda deployment: False)
    cluster = rollout.Cluster(connect(), "fmops")
    cluster.apply(deployment(ServingSpec(name="demo", model_uri="s3://b/m", version="v1")))
    with pytest.raises(rollout.RolloutFailed) as raised:
        cluster.wait_ready("demo", deadline_s=0.5, poll_s=0.1)
    assert str(raised.value) == (
        f"Deployment demo not ready after 0 s: pod demo-7d9f-x2x4q: container vllm waiting: CrashLoopBackOff: {CRASH}"
    )
