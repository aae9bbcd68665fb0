"""argocd/ against the upstream Argo CD CRDs (their spec.versions[0].schema.openAPIV3Schema, read at test
time from the shared schemas directory, not copied into the project), made strict: every object that lists
its properties rejects unknown ones, so a typo (`prun`, `syncOptons`) fails here instead of being silently
ignored by the API server. Core kinds are checked with kubernetes-validate, strictly as well."""

from __future__ import annotations

import copy
from functools import cache

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.helpers import shared_dir
from tests.infra.conftest import ARGOCD, argocd_documents, unavailable
from tests.infra.crd_schemas import strict

CRDS = {"Application": "application-crd.yaml", "AppProject": "appproject-crd.yaml"}
METADATA_KEYS = {"name", "namespace", "labels", "annotations", "finalizers"}
KUBERNETES_VERSION = "1.33"  # the newest release kubernetes-validate knows offline is enough for core kinds
CORE_KINDS = {"ServiceAccount", "Role", "RoleBinding", "Secret", "NetworkPolicy"}


@cache
def validator(kind: str) -> jsonschema.protocols.Validator:
    path = shared_dir("schemas") / CRDS[kind]
    if not path.exists():
        unavailable(f"Argo CD CRD schema {path} is missing")
    crd = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)  # libyaml: CRDs are megabytes
    schema = strict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    return jsonschema.Draft7Validator(schema)


def errors(kind: str, document: dict) -> list[str]:
    found = [
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator(kind).iter_errors(document)
    ]
    extra = set(document.get("metadata", {})) - METADATA_KEYS
    return found + [f"metadata: unexpected keys {sorted(extra)}"] if extra else found


ARGO_DOCUMENTS = [(path, doc) for path, doc in argocd_documents() if doc["kind"] in CRDS]


def test_argocd_holds_the_expected_objects():
    kinds = {}
    for _path, doc in ARGO_DOCUMENTS:
        kinds.setdefault(doc["kind"], set()).add(doc["metadata"]["name"])
    assert kinds["AppProject"] == {"root", "platform", "fmops"}
    assert kinds["Application"] >= {
        "fmops-root",
        "argo-workflows",
        "kube-prometheus-stack",
        "gpu-operator",
        "training-operator",
        "keda",
        "efa-device-plugin",
        "karpenter-nodepools",
        "fmops-rbac",
        "fmops-workflows",
    }


@pytest.mark.parametrize(
    "path, document",
    ARGO_DOCUMENTS,
    ids=[f"{p.relative_to(ARGOCD)}:{d['metadata']['name']}" for p, d in ARGO_DOCUMENTS],
)
def test_matches_crd_schema(path, document):
    assert document["apiVersion"] == "argoproj.io/v1alpha1"
    assert errors(document["kind"], document) == []


def test_strict_schema_rejects_a_typo():
    """The strictness is real: the same Application with a misspelled field fails."""
    application = next(doc for _, doc in ARGO_DOCUMENTS if doc["metadata"]["name"] == "fmops-workflows")
    broken = copy.deepcopy(application)
    broken["spec"]["syncPolicy"]["automated"]["prun"] = True
    assert any("prun" in error for error in errors("Application", broken))
    broken = copy.deepcopy(application)
    broken["spec"]["source"]["kustomize"]["image"] = broken["spec"]["source"]["kustomize"].pop("images")
    assert errors("Application", broken)


CORE_DOCUMENTS = [(path, doc) for path, doc in argocd_documents() if doc["kind"] in CORE_KINDS]


@pytest.mark.parametrize(
    "path, document", CORE_DOCUMENTS, ids=[f"{p.relative_to(ARGOCD)}:{d['kind']}" for p, d in CORE_DOCUMENTS]
)
def test_core_objects_validate(path, document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_every_core_kind_is_validated():
    """The parametrized checks above pass vacuously on an empty list: the objects they check must exist."""
    assert {doc["kind"] for _, doc in CORE_DOCUMENTS} == CORE_KINDS


def test_strict_core_validation_rejects_a_typo():
    (_, account) = next((p, d) for p, d in CORE_DOCUMENTS if d["kind"] == "ServiceAccount")
    broken = copy.deepcopy(account) | {"automountServiceAcountToken": False}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_yaml_file_parses_to_at_least_one_document():
    paths = sorted(ARGOCD.rglob("*.yaml"))
    assert paths
    for path in paths:
        assert [doc for doc in yaml.safe_load_all(path.read_text()) if doc], path
