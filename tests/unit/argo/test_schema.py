"""Every rendered Argo resource validates strictly against the upstream Argo Workflows JSON schema.

The schema is data kept outside the repository (`shared_dir("schemas")`: these tests skip, saying why, where it
is absent, and fail under CI). It has two known quirks, patched here so validation is strict: IntOrString
fields accept integers, and objects that list their properties accept no others.
"""

import copy
import json
from functools import cache

import pytest
import yaml
from fmops.argo import render
from jsonschema import Draft202012Validator

from tests.helpers import shared_dir

SCHEMA = "argo-schema-v4.0.5.json"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
RENDERED = render.render()


@cache
def strict_schema() -> dict:
    path = shared_dir("schemas") / SCHEMA
    assert path.is_file(), f"{path} not found beside the other upstream schemas"
    schema = json.loads(path.read_text(encoding="utf-8"))
    definitions = schema["definitions"]
    definitions[INT_OR_STRING] = {"type": ["string", "integer"]}
    for definition in definitions.values():
        if "properties" in definition and "additionalProperties" not in definition:
            definition["additionalProperties"] = False
    return schema


def validator_for(kind: str) -> Draft202012Validator:
    schema = {**strict_schema(), "$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}"}
    schema.pop("oneOf", None)
    return Draft202012Validator(schema)


def argo_documents():
    for name, text in RENDERED.items():
        for document in yaml.safe_load_all(text):
            if document.get("apiVersion") == "argoproj.io/v1alpha1":
                yield pytest.param(document, id=name)


@pytest.mark.parametrize("document", list(argo_documents()))
def test_rendered_resource_validates_strictly(document):
    errors = sorted(validator_for(document["kind"]).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors[:10])


def test_strict_schema_rejects_a_typo():
    document = copy.deepcopy(yaml.safe_load(RENDERED["fmops-pretrain.yaml"]))
    document["spec"]["templates"][0]["retryStrategy"]["bakoff"] = {"duration": "1m"}
    errors = list(validator_for("WorkflowTemplate").iter_errors(document))
    assert any("bakoff" in e.message for e in errors)


def test_strict_schema_accepts_integer_retry_limits():
    document = yaml.safe_load(RENDERED["fmops-pretrain.yaml"])
    limits = [t["retryStrategy"]["limit"] for t in document["spec"]["templates"] if "retryStrategy" in t]
    assert limits and all(isinstance(limit, int) for limit in limits)
