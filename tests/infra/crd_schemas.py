"""Custom objects against their upstream CRDs in ../shared/schemas/: the schema of the version the object's
apiVersion names, made strict (an object that lists its properties refuses others, unless the CRD keeps
unknown fields), so a misspelled or misplaced field fails here instead of being pruned by the API server.
CEL rules (x-kubernetes-validations) are not evaluated; tests check the few that matter by hand."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.helpers import shared_dir

# The CRD files read here, by group and kind (the directory holds two Karpenter versions; these are unique).
FILES = {
    ("trainer.kubeflow.org", "TrainJob"): "trainer.kubeflow.org_trainjobs-v2.3.0.yaml",
    ("trainer.kubeflow.org", "ClusterTrainingRuntime"): "trainer.kubeflow.org_clustertrainingruntimes-v2.3.0.yaml",
    ("kueue.x-k8s.io", "ClusterQueue"): "kueue.x-k8s.io_clusterqueues-v0.19.2.yaml",
    ("kueue.x-k8s.io", "LocalQueue"): "kueue.x-k8s.io_localqueues-v0.19.2.yaml",
    ("kueue.x-k8s.io", "ResourceFlavor"): "kueue.x-k8s.io_resourceflavors-v0.19.2.yaml",
    ("inference.networking.k8s.io", "InferencePool"): "inference.networking.k8s.io_inferencepools-v1.6.0.yaml",
    ("gateway.networking.k8s.io", "HTTPRoute"): "gateway.networking.k8s.io_httproutes-v1.6.1.yaml",
    ("gateway.networking.k8s.io", "Gateway"): "gateway.networking.k8s.io_gateways-v1.6.1.yaml",
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): "leaderworkerset.x-k8s.io_leaderworkersets-v0.10.0.yaml",
}
METADATA_KEYS = {"name", "generateName", "namespace", "labels", "annotations", "finalizers"}


def strict(schema: dict) -> dict:
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            keeps_unknown = node.get("x-kubernetes-preserve-unknown-fields")
            if "properties" in node and "additionalProperties" not in node and not keeps_unknown:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def group_and_version(document: dict) -> tuple[str, str]:
    group, _, version = document["apiVersion"].rpartition("/")
    return group, version


def load_validator(path: Path, group: str, kind: str, version: str) -> jsonschema.Validator:
    """The strict validator of the served `version` of the CRD file at `path` (parsed by libyaml: CRDs are
    megabytes)."""
    crd = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    assert crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind, path.name
    served = {v["name"]: v for v in crd["spec"]["versions"] if v.get("served")}
    assert version in served, f"{group}/{kind}: version {version} is not served by {path.name} ({sorted(served)})"
    return jsonschema.Draft7Validator(strict(served[version]["schema"]["openAPIV3Schema"]))


def schema_errors(validator: jsonschema.Validator, document: dict) -> list[str]:
    """Every way `document` breaks the schema, as `path: message` lines."""
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(document)]


@cache
def validator(group: str, kind: str, version: str) -> jsonschema.Validator:
    return load_validator(shared_dir("schemas") / FILES[(group, kind)], group, kind, version)


def errors(document: dict) -> list[str]:
    """Every way `document` breaks its CRD's schema, and metadata keys an object does not carry."""
    group, version = group_and_version(document)
    found = schema_errors(validator(group, document["kind"], version), document)
    extra = set(document.get("metadata", {})) - METADATA_KEYS
    return found + ([f"metadata: unexpected keys {sorted(extra)}"] if extra else [])


def has_schema(document: dict) -> bool:
    return (group_and_version(document)[0], document["kind"]) in FILES
