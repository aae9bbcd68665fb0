"""Offline validation of everything fmops applies to a cluster: `kubectl kustomize workflows/` as Argo CD
builds it, the core objects under argocd/ and in the deploy step's manifests against the Kubernetes
schemas (kubernetes-validate), and the kinds without a schema check here (PyTorchJob, ServiceMonitor,
PrometheusRule, ScaledObject) against the fields their CRDs define (tests/infra/shapes.py; Karpenter's
kinds are checked against their CRDs in test_crd_schemas.py); the pods inside PyTorchJobs as core
PodTemplates. A missing tool skips, and fails under CI=true."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess

import jsonschema
import kubernetes_validate
import pytest
import yaml
from fmops.argo.local.expressions import substitute
from fmops.serving import objects
from fmops.serving.spec import ServingSpec

from tests.helpers import shared_dir
from tests.infra import crd_schemas
from tests.infra.conftest import argocd_documents, unavailable
from tests.infra.shapes import SHAPES, document_errors
from tests.infra.workflow_docs import WORKFLOWS, pytorchjobs

KUBERNETES_VERSION = "1.33"
CORE_GROUPS = {"v1", "apps/v1", "rbac.authorization.k8s.io/v1", "batch/v1", "policy/v1"}
SERVING = ServingSpec(name="demo", model_uri="s3://bucket/models/demo/1", version="1", max_replicas=3)


def kustomize_build() -> list[dict]:
    binary = shutil.which("kubectl")
    command = [binary, "kustomize", str(WORKFLOWS)] if binary else None
    if command is None and shutil.which("kustomize"):
        command = [shutil.which("kustomize"), "build", str(WORKFLOWS)]
    if command is None:
        unavailable("neither kubectl nor kustomize is on PATH, so workflows/ cannot be built")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def built() -> list[dict]:
    return kustomize_build()


def argo_validator(kind: str) -> jsonschema.Validator:
    schema = json.loads((shared_dir("schemas") / "argo-schema-v4.0.5.json").read_text())
    schema.pop("oneOf", None)
    # The schema types IntOrString fields as strings only; the API server takes either.
    schema["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["string", "integer"]}
    return jsonschema.Draft202012Validator({**schema, "$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}"})


def test_kustomize_builds_what_argo_cd_syncs(built):
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in built}
    assert ("ConfigMap", "fmops-settings") in kinds and ("WorkflowTemplate", "fmops-pipeline") in kinds
    settings = next(doc for doc in built if doc["metadata"]["name"] == "fmops-settings")["data"]
    pipeline = next(doc for doc in built if doc["metadata"]["name"] == "fmops-pipeline")
    arguments = {p["name"]: p.get("value") for p in pipeline["spec"]["arguments"]["parameters"]}
    assert arguments["storage-root"] == settings["storage-root"], "the settings replacements reach the templates"
    assert all(doc["metadata"]["namespace"] == "fmops" for doc in built)


def test_kustomized_objects_validate(built):
    checked = set()
    for doc in built:
        if doc["apiVersion"] == "argoproj.io/v1alpha1":
            errors = [
                f"{'.'.join(map(str, e.path))}: {e.message}" for e in argo_validator(doc["kind"]).iter_errors(doc)
            ]
            assert errors == [], f"{doc['kind']} {doc['metadata']['name']}: {errors[:5]}"
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked.add(doc["kind"])
    assert checked >= {"ConfigMap", "WorkflowTemplate", "CronWorkflow"}


def deploy_objects() -> list[dict]:
    """Both workload variants: one node per replica (a Deployment) and several (a LeaderWorkerSet)."""
    multi_node = ServingSpec(**{**SERVING.__dict__, "nodes": 2, "gpus": 8})
    return objects.all_manifests(SERVING) + [objects.workload(multi_node)]


@pytest.mark.parametrize("document", deploy_objects(), ids=lambda d: f"{d['kind']}:{d['metadata']['name']}")
def test_deploy_step_manifests_validate(document):
    if document["apiVersion"] in CORE_GROUPS:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    elif crd_schemas.has_schema(document):
        assert crd_schemas.errors(document) == []
    else:
        assert document_errors(document) == []


def test_every_kind_fmops_applies_has_a_check():
    kinds = {d["kind"] for d in deploy_objects()} | {d["kind"] for _, d in argocd_documents()}
    kinds |= {job["kind"] for _, _, job in pytorchjobs()}
    # Kinds validated against their upstream CRD (tests/infra/crd_schemas.py, test_trainjob.py).
    kinds -= {kind for _, kind in crd_schemas.FILES}
    with_schema = {
        "Application",
        "AppProject",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Service",
        "ConfigMap",
        "Deployment",
        "Secret",
        "NetworkPolicy",
        "NodePool",
        "EC2NodeClass",
    }
    assert kinds - with_schema <= set(SHAPES), (
        f"kinds with neither a schema nor a shape: {kinds - with_schema - set(SHAPES)}"
    )
    assert set(SHAPES) <= kinds, "every shape is used"


def concrete(template: dict) -> dict:
    """The PyTorchJob a resource template creates, with sample values for its inputs and workflow variables."""
    manifest = template["resource"]["manifest"]
    names = set(re.findall(r"\{\{(inputs\.parameters\.[\w-]+|workflow\.\w+)\}\}", manifest))
    names |= {f"inputs.parameters.{n}" for n in re.findall(r"""inputs\.parameters\[["']([\w-]+)["']\]""", manifest)}
    variables = {name: "x" for name in names} | {
        "inputs.parameters.nodes": "2",
        "inputs.parameters.gpus-per-node": "8",
        "inputs.parameters.efa-per-node": "32",
        "inputs.parameters.image": "ghcr.io/fmops/fmops-train:0.1.0",
        "workflow.name": "run",
        "workflow.uid": "0f0e0d0c-0b0a-0908-0706-050403020100",
    }
    return yaml.safe_load(substitute(manifest, variables))


JOBS = pytorchjobs()


@pytest.mark.parametrize("name, template, job", JOBS, ids=[f"{n}:{t['name']}" for n, t, _ in JOBS])
def test_pytorchjobs_keep_their_crd_fields_and_valid_pods(name, template, job):
    document = concrete(template)
    assert document_errors(document) == []
    assert document["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] == 1
    for replica in document["spec"]["pytorchReplicaSpecs"].values():
        pod = {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": "replica"},
            "template": replica["template"],
        }
        kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


def test_the_shapes_refuse_a_typo():
    (job,) = [concrete(template) for name, template, _ in JOBS if name == "fmops-pretrain"][:1]
    broken = copy.deepcopy(job)
    broken["spec"]["runPolicy"]["cleanPodPolicyy"] = "All"
    assert document_errors(broken)
