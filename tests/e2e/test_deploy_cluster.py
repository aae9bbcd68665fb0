"""`fmops deploy --target cluster` against the fake Kubernetes API and an S3 registry (moto): the happy
path, a rollout that never becomes ready, a smoke test that fails, a missing CRD. Bad input:
tests/unit/serving/test_deploy_inputs.py."""

from __future__ import annotations

import json
import os
import uuid

import pytest
import yaml
from fmops.serving import manifests
from fmops.serving.spec import ServingSpec

from tests.helpers import fmops
from tests.unit.serving.fake_kube import CRASH, FakeKube

BUCKET = "fmops-test"

pytestmark = pytest.mark.slow  # the smoke test runs against a served model
VERSION_LABEL = "fmops.dev/model-version"


@pytest.fixture(scope="module")
def s3_env():
    """An S3 endpoint (moto) with one bucket; the environment a subprocess needs to reach it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    import boto3

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


@pytest.fixture
def registry_root(s3_env) -> str:
    return f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}/registry"


def with_previous(fake: FakeKube, registry_root: str, model) -> str:
    """A cluster already serving version `v-old`, which is also the registry's production."""
    from fmops.core import registry

    target = registry.publish(registry_root, "demo", str(model), version="v-old", pointer="production")
    fake.apply(
        ("deployments", "fmops", "demo"),
        "application/apply-patch+yaml",
        {"fieldManager": "fmops-deploy"},
        json.dumps(manifests.deployment(ServingSpec(name="demo", model_uri=target, version="v-old"))).encode(),
    )
    return target


def deploy(fake: FakeKube, env: dict, tmp_path, registry_root: str, model, *extra: str):
    kubeconfig = fake.kubeconfig(tmp_path / "kubeconfig")
    return fmops(
        "deploy",
        "--model",
        str(model),
        "--name",
        "demo",
        "--target",
        "cluster",
        "--registry",
        registry_root,
        "--results-dir",
        str(tmp_path / "results"),
        *extra,
        check=False,
        env={**env, "KUBECONFIG": str(kubeconfig), "KUBERNETES_SERVICE_HOST": ""},
    )


def production(registry_root: str) -> str | None:
    from fmops.core import registry

    pointer = registry.read_pointer(registry_root, "demo", "production")
    return pointer and pointer["version"]


def served_version(fake: FakeKube) -> str | None:
    deployment = fake.deployment("demo")
    return deployment and deployment["spec"]["template"]["metadata"]["labels"][VERSION_LABEL]


def test_rollout_applies_everything_smoke_tests_then_promotes(s3_env, registry_root, tiny_model, served, tmp_path):
    evaluation = tmp_path / "eval"
    evaluation.mkdir()
    (evaluation / "metrics.json").write_text('{"demo_addition": {"exact_match": {"value": 0.5}}}')
    fake = FakeKube().start()
    try:
        result = deploy(
            fake,
            s3_env,
            tmp_path,
            registry_root,
            tiny_model,
            "--endpoint",
            served.base_url,
            "--evaluation",
            str(evaluation),
        )
    finally:
        fake.stop()
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "results" / "deploy.json").read_text())
    assert report["status"] == "promoted" and report["smoke"]["passed"]
    assert production(registry_root) == report["version"] == served_version(fake)
    applies = [r for r in fake.requests if r["method"] == "PATCH"]
    assert [r["path"].split("/")[-2] for r in applies] == [
        "services",
        "inferencepools",
        "httproutes",
        "servicemonitors",
        "prometheusrules",
        "configmaps",
        "configmaps",
        "services",
        "deployments",
        "deployments",
    ]
    assert all(r["content_type"] == "application/apply-patch+yaml" for r in applies)
    assert all(r["query"]["fieldManager"] == "fmops-deploy" for r in applies)
    from fmops.core import storage

    version_uri = f"{registry_root}/models/demo/{report['version']}"
    init = fake.deployment("demo")["spec"]["template"]["spec"]["initContainers"][0]
    assert init["command"][-2] == version_uri + "/"
    assert storage.read_json(f"{version_uri}/evaluation/metrics.json")["demo_addition"]
    assert (tmp_path / "results" / "endpoint").read_text() == served.base_url
    kinds = [doc["kind"] for doc in yaml.safe_load_all((tmp_path / "results" / "manifests.yaml").read_text())]
    assert report["applied"] == [
        "Service/demo",
        "InferencePool/demo",
        "HTTPRoute/demo",
        "ServiceMonitor/demo",
        "PrometheusRule/demo",
        "ConfigMap/demo-dashboard",
        "ConfigMap/demo-epp",
        "Service/demo-epp",
        "Deployment/demo-epp",
        "Deployment/demo",
    ]
    assert kinds == [applied.split("/")[0] for applied in report["applied"]]
    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text())
    assert (metrics["promoted"], metrics["smoke_passed"], metrics["smoke_errors"]) == (1, 1, 0)


def test_never_ready_rollout_fails_with_the_pod_reason_and_the_previous_model_keeps_serving(
    s3_env, registry_root, tiny_model, tmp_path
):
    fake = FakeKube(ready=lambda d: d["spec"]["template"]["metadata"]["labels"][VERSION_LABEL] == "v-old").start()
    try:
        with_previous(fake, registry_root, tiny_model)
        result = deploy(fake, s3_env, tmp_path, registry_root, tiny_model, "--timeout", "3")
    finally:
        fake.stop()
    assert result.returncode == 1
    assert f"pod demo-7d9f-x2x4q: container vllm waiting: CrashLoopBackOff: {CRASH}" in result.stderr
    assert (
        "NOT promoted; production stays at v-old; re-applied the previous Deployment spec (model version v-old)"
        in result.stderr
    )
    assert served_version(fake) == "v-old"
    assert production(registry_root) == "v-old"
    report = json.loads((tmp_path / "results" / "deploy.json").read_text())
    assert report["status"] == "failed" and "smoke" not in report
    assert report["production"] == {"before": "v-old", "after": "v-old"}


def test_failed_smoke_test_rolls_back_the_deployment_and_keeps_production(s3_env, registry_root, tiny_model, tmp_path):
    fake = FakeKube().start()  # every rollout becomes ready, but nothing answers at the endpoint
    try:
        with_previous(fake, registry_root, tiny_model)
        result = deploy(
            fake,
            s3_env,
            tmp_path,
            registry_root,
            tiny_model,
            "--endpoint",
            "http://127.0.0.1:9/v1",
            "--set",
            "smoke_connect_s=0",
        )
    finally:
        fake.stop()
    assert result.returncode == 1
    assert "smoke test failed: models: APIConnectionError" in result.stderr
    assert served_version(fake) == "v-old"
    assert production(registry_root) == "v-old"
    assert json.loads((tmp_path / "results" / "metrics.json").read_text())["promoted"] == 0


def test_a_first_rollout_that_never_becomes_ready_is_removed(s3_env, registry_root, tiny_model, tmp_path):
    fake = FakeKube(ready=lambda deployment: False).start()
    try:
        result = deploy(fake, s3_env, tmp_path, registry_root, tiny_model, "--timeout", "2")
    finally:
        fake.stop()
    assert result.returncode == 1
    assert "deleted the new Deployment (there was no previous one)" in result.stderr
    assert fake.deployment("demo") is None and production(registry_root) is None


def test_a_missing_monitoring_crd_fails_before_the_deployment_is_touched(s3_env, registry_root, tiny_model, tmp_path):
    fake = FakeKube(missing={"servicemonitors"}).start()
    try:
        with_previous(fake, registry_root, tiny_model)
        result = deploy(fake, s3_env, tmp_path, registry_root, tiny_model)
    finally:
        fake.stop()
    assert result.returncode == 1
    assert (
        "apply ServiceMonitor/demo: HTTP 404: the server could not find the requested resource "
        "(is its CustomResourceDefinition installed?)"
    ) in result.stderr
    assert served_version(fake) == "v-old" and production(registry_root) == "v-old"
    assert not [r for r in fake.requests if r["method"] == "PATCH" and "/deployments/" in r["path"]]
