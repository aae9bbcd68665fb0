"""argocd/bootstrap.py: every FMOPS_* placeholder in argocd/ is a key of Terraform's `argocd_bootstrap`
output and back; filling a copy leaves none behind and writes the expected images and settings; a
placeholder without a value is refused with one line, exit 2, and nothing is written."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import yaml

from tests.infra.conftest import ARGOCD, hcl_blocks

SCRIPT = ARGOCD / "bootstrap.py"
REGISTRY = "111122223333.dkr.ecr.eu-central-1.amazonaws.com"


def output_keys() -> set[str]:
    (body,) = [body for _, name, body in hcl_blocks("output") if name == "argocd_bootstrap"]
    return set(body["value"])


def placeholders() -> set[str]:
    sys.path.insert(0, str(ARGOCD))
    try:
        import bootstrap
    finally:
        sys.path.pop(0)
    return set().union(*bootstrap.placeholders(ARGOCD).values())


def outputs(**overrides: str) -> dict:
    value = {key: f"value-of-{key.lower()}" for key in output_keys()}
    value.update(
        FMOPS_ECR_REGISTRY=REGISTRY,
        FMOPS_IMAGE_TAG="0.1.0",
        FMOPS_STORAGE_ROOT="s3://b/fmops",
        FMOPS_DATA_ROOT="s3://b/data",
        FMOPS_MODEL_NAME="llama-ft",
        **overrides,
    )
    return {"argocd_bootstrap": {"sensitive": False, "type": "object", "value": value}}


def run(tmp_path, data) -> subprocess.CompletedProcess:
    target = tmp_path / "argocd"
    shutil.copytree(ARGOCD, target)
    (tmp_path / "outputs.json").write_text(json.dumps(data))
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "outputs.json"), "--dir", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_placeholders_match_terraform_output():
    assert placeholders() == output_keys()


def test_fill_writes_every_value(tmp_path):
    result = run(tmp_path, outputs())
    assert result.returncode == 0, result.stderr
    target = tmp_path / "argocd"
    left = [path for path in target.rglob("*.yaml") if re.search(r"\bFMOPS_[A-Z]+", path.read_text())]
    assert left == []
    app = yaml.safe_load((target / "apps" / "workflows.yaml").read_text())
    assert app["spec"]["source"]["kustomize"]["images"] == [
        f"ghcr.io/fmops/fmops-train={REGISTRY}/fmops-train:0.1.0",
        f"ghcr.io/fmops/fmops-eval={REGISTRY}/fmops-eval:0.1.0",
    ]
    patch = yaml.safe_load(app["spec"]["source"]["kustomize"]["patches"][0]["patch"])
    assert {op["path"]: op["value"] for op in patch} == {
        "/data/storage-root": "s3://b/fmops",
        "/data/data-root": "s3://b/data",
        "/data/model-name": "llama-ft",
    }
    assert app["spec"]["source"]["repoURL"] == "value-of-fmops_repo_url"
    assert f"filled {target / 'apps' / 'workflows.yaml'}" in result.stdout.splitlines()


def test_missing_value_is_refused_and_nothing_written(tmp_path):
    data = outputs()
    del data["argocd_bootstrap"]["value"]["FMOPS_BUCKET"]
    result = run(tmp_path, data)
    assert result.returncode == 2
    values_file = tmp_path / "argocd" / "addons" / "argo-workflows" / "values.yaml"
    assert result.stderr == (
        f"error: {values_file}: placeholder FMOPS_BUCKET has no value in output 'argocd_bootstrap'\n"
    )
    assert "FMOPS_REPO_URL" in (tmp_path / "argocd" / "apps" / "workflows.yaml").read_text()


def test_outputs_without_the_map_are_refused(tmp_path):
    result = run(tmp_path, {"bucket": {"value": "b"}})
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {tmp_path / 'outputs.json'}: no output 'argocd_bootstrap' (run `terraform apply` first)\n"
    )
