"""The rendered workflows/ as data for the infra tests: documents, their templates, and the PyTorchJobs
their resource templates create (the manifests are strings inside the WorkflowTemplates)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import yaml

from tests.infra.conftest import ROOT

WORKFLOWS = ROOT / "workflows"


@cache
def documents() -> tuple[tuple[Path, dict], ...]:
    found = []
    for path in sorted(WORKFLOWS.glob("fmops-*.yaml")):
        found += [(path, doc) for doc in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader) if doc]
    return tuple(found)


def own_spec(doc: dict) -> dict:
    spec = doc.get("spec") or {}
    return spec.get("workflowSpec", spec)


def spec_of(doc: dict) -> dict:
    """The workflow spec a document runs with: a workflowTemplateRef (every CronWorkflow's) is the named
    WorkflowTemplate's spec with the referring document's arguments, as Argo merges them."""
    spec = own_spec(doc)
    ref = spec.get("workflowTemplateRef")
    if not ref:
        return spec
    (target,) = [d for _, d in documents() if d["kind"] == "WorkflowTemplate" and d["metadata"]["name"] == ref["name"]]
    return {**own_spec(target), "arguments": spec.get("arguments") or own_spec(target).get("arguments", {})}


def templates() -> Iterator[tuple[str, dict]]:
    """(document name, template) for every template of every WorkflowTemplate and CronWorkflow that holds any."""
    for _, doc in documents():
        for template in own_spec(doc).get("templates") or []:
            yield doc["metadata"]["name"], template


def pytorchjobs() -> list[tuple[str, dict, dict]]:
    """(document name, resource template, PyTorchJob manifest) for every PyTorchJob the templates create."""
    return resource_jobs("PyTorchJob")


def trainjobs() -> list[tuple[str, dict, dict]]:
    """(document name, resource template, TrainJob manifest) for every TrainJob the templates create."""
    return resource_jobs("TrainJob")


def resource_jobs(kind: str) -> list[tuple[str, dict, dict]]:
    found = []
    for name, template in templates():
        manifest = (template.get("resource") or {}).get("manifest")
        if manifest:
            # An expression tag left unquoted (the replica count, a number once Argo fills it in; a toJson
            # value, a JSON string) reads as a YAML flow mapping: quote it to read the manifest's shape.
            job = yaml.safe_load(re.sub(r"(: |- )(\{\{=[^'\n]*\}\})$", r"\1'\2'", manifest, flags=re.M))
            if job.get("kind") == kind:
                found.append((name, template, job))
    return found


def job_pods(job: dict) -> list[dict]:
    return [replica["template"] for replica in job["spec"]["pytorchReplicaSpecs"].values()]
