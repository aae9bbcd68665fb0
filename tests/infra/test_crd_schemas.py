"""argocd/'s Karpenter objects against the upstream CRDs of the Karpenter version Terraform installs
(terraform/karpenter.tf; the CRD files are read at test time from the shared schemas directory), made
strict like the Argo CD CRDs: an unknown or misplaced field fails here instead of being pruned by the
API server. The served versions must include the one the manifest's apiVersion names."""

from __future__ import annotations

import copy
import re
from functools import cache

import jsonschema
import pytest
import yaml

from tests.helpers import shared_dir
from tests.infra.conftest import ARGOCD, TERRAFORM, argocd_documents, unavailable
from tests.infra.crd_schemas import load_validator, schema_errors, strict

KARPENTER_VERSION = re.search(r'karpenter_version\s*=\s*"([\d.]+)"', (TERRAFORM / "karpenter.tf").read_text())[1]
CRD_FILES = {
    ("karpenter.sh", "NodePool"): f"karpenter.sh_nodepools-v{KARPENTER_VERSION}.yaml",
    ("karpenter.k8s.aws", "EC2NodeClass"): f"karpenter.k8s.aws_ec2nodeclasses-v{KARPENTER_VERSION}.yaml",
}


@cache
def validator(group: str, kind: str, version: str) -> jsonschema.Validator:
    path = shared_dir("schemas") / CRD_FILES[(group, kind)]
    if not path.exists():
        unavailable(f"CRD schema {path} is missing")
    return load_validator(path, group, kind, version)


def errors(document: dict) -> list[str]:
    group, version = document["apiVersion"].split("/")
    return schema_errors(validator(group, document["kind"], version), document)


KARPENTER = [
    (path, doc) for path, doc in argocd_documents() if (doc["apiVersion"].split("/")[0], doc["kind"]) in CRD_FILES
]


def test_the_pools_and_classes_are_all_here():
    names = {(doc["kind"], doc["metadata"]["name"]) for _, doc in KARPENTER}
    assert {("NodePool", n) for n in ("gpu-train", "gpu-train-small", "gpu-serve", "cpu")} <= names
    assert {("EC2NodeClass", n) for n in ("default", "gpu", "gpu-train")} <= names


@pytest.mark.parametrize("path, document", KARPENTER, ids=[str(p.relative_to(ARGOCD)) for p, _ in KARPENTER])
def test_matches_the_installed_karpenter_crd(path, document):
    assert errors(document) == []


def test_the_placement_group_class_names_the_group_terraform_creates():
    classes = {doc["metadata"]["name"]: doc for _, doc in KARPENTER if doc["kind"] == "EC2NodeClass"}
    placed, plain = classes["gpu-train"], classes["gpu"]
    assert placed["spec"]["placementGroupSelector"] == {"name": "FMOPS_TRAINING_PLACEMENT_GROUP"}
    assert {k: v for k, v in placed["spec"].items() if k != "placementGroupSelector"} == plain["spec"]
    outputs = (TERRAFORM / "outputs.tf").read_text()
    assert 'FMOPS_TRAINING_PLACEMENT_GROUP = "${var.cluster_name}-gpu-train"' in re.sub(r" +", " ", outputs)
    assert 'name = "${var.cluster_name}-gpu-train"' in re.sub(r" +", " ", (TERRAFORM / "karpenter.tf").read_text())


def test_strict_schema_rejects_a_typo_and_a_field_of_a_later_release():
    (_, pool) = next(item for item in KARPENTER if item[1]["kind"] == "NodePool")
    broken = copy.deepcopy(pool)
    broken["spec"]["disruption"]["consolidationPolicy"] = "WhenUnderutilized"  # the v1beta1 value, gone in v1
    broken["spec"]["template"]["spec"]["expireAfterr"] = "1h"
    assert len(errors(broken)) == 2
    (_, placed) = next(item for item in KARPENTER if item[1]["spec"].get("placementGroupSelector"))
    older = shared_dir("schemas") / "karpenter.k8s.aws_ec2nodeclasses-v1.8.1.yaml"
    if not older.exists():
        unavailable(f"CRD schema {older} is missing")
    crd = yaml.load(older.read_text(), Loader=yaml.CSafeLoader)
    schema = strict(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    found = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(placed)]
    assert any("placementGroupSelector" in message for message in found), "1.8.1 has no placement groups"
