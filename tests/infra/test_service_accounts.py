"""Tokens only where used: no step of the rendered workflows mounts a Kubernetes token into a container
that does not call the API. A container or script step runs `fmops` in its own container: it gets a
token only when the template names an API caller's account (`fmops deploy`); Argo's executor reports
results with fmops-executor's token, which Argo mounts into the executor's containers alone. A resource
template *is* the executor calling the API, as fmops-launcher, which must be allowed the kind it manages.
The step that says why a TrainJob failed reads it as fmops-trainjob-reader, allowed nothing else."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.infra.conftest import argocd_documents
from tests.infra.workflow_docs import documents, spec_of

# Templates whose own container calls the Kubernetes API, and as whom.
API_CALLERS = {
    ("fmops-deploy", "deploy"): "fmops-deploy",
    **{(f"fmops-{stage}", "trainjob-failure"): "fmops-trainjob-reader" for stage in ("pretrain", "sft", "dpo")},
}
PLURALS = {"PyTorchJob": ("kubeflow.org", "pytorchjobs"), "TrainJob": ("trainer.kubeflow.org", "trainjobs")}


def objects(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in argocd_documents() if doc["kind"] == kind}


def granted(account: str) -> set[tuple[str, str, str]]:
    bindings = [
        b
        for b in objects("RoleBinding").values()
        if {"kind": "ServiceAccount", "name": account, "namespace": "fmops"} in b["subjects"]
    ]
    roles = objects("Role")
    return {
        (group, resource, verb)
        for binding in bindings
        for rule in roles[binding["roleRef"]["name"]]["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


TEMPLATES = [
    (doc["metadata"]["name"], spec_of(doc), template)
    for _, doc in documents()
    for template in spec_of(doc).get("templates") or []
    if {"container", "script", "resource"} & set(template)
]


def test_every_workflow_mounts_no_token_by_default_and_reports_as_the_executor():
    runnable = [doc for _, doc in documents() if doc["kind"] in ("WorkflowTemplate", "CronWorkflow")]
    assert len(runnable) >= 9
    for doc in runnable:
        spec = spec_of(doc)
        assert spec["automountServiceAccountToken"] is False, doc["metadata"]["name"]
        assert spec["executor"] == {"serviceAccountName": "fmops-executor"}, doc["metadata"]["name"]
        assert spec["serviceAccountName"] == "fmops-workflow"


@pytest.mark.parametrize("name, spec, template", TEMPLATES, ids=[f"{n}:{t['name']}" for n, _, t in TEMPLATES])
def test_no_step_mounts_a_token_it_does_not_use(name, spec, template):
    mounts = template.get("automountServiceAccountToken", spec["automountServiceAccountToken"])
    account = template.get("serviceAccountName", spec["serviceAccountName"])
    if "resource" in template:
        assert template["executor"] == {"serviceAccountName": "fmops-launcher"}
        return
    caller = API_CALLERS.get((name, template["name"]))
    assert mounts is (caller is not None), f"{name}:{template['name']} token mounted: {mounts}"
    if caller:
        assert account == caller and granted(account), f"{name}:{template['name']} calls the API as {account}"


def test_the_launcher_may_manage_what_resource_templates_create():
    needed = set()
    for _, _, template in TEMPLATES:
        if "resource" not in template:
            continue
        resource = template["resource"]
        if resource["action"] == "create":
            kind = yaml.safe_load(re.sub(r"\{\{[^}]*\}\}", "x", resource["manifest"]))["kind"]
            needed |= {(*PLURALS[kind], verb) for verb in ("create", "get", "watch")}
        else:
            group_resource = resource["flags"][0]  # e.g. pytorchjobs.kubeflow.org
            plural, group = group_resource.split(".", 1)
            needed.add((group, plural, resource["action"]))
    assert needed and needed <= granted("fmops-launcher"), sorted(needed - granted("fmops-launcher"))


def test_accounts_exist_and_executors_have_their_token_secret():
    accounts = objects("ServiceAccount")
    used = {t.get("serviceAccountName", s["serviceAccountName"]) for _, s, t in TEMPLATES}
    executors = {t.get("executor", s["executor"])["serviceAccountName"] for _, s, t in TEMPLATES}
    assert used | executors <= set(accounts)
    secrets = {
        doc["metadata"]["annotations"]["kubernetes.io/service-account.name"]: name
        for name, doc in objects("Secret").items()
    }
    for executor in executors:
        assert secrets.get(executor) == f"{executor}.service-account-token", executor


def test_the_check_refuses_a_step_that_mounts_a_token():
    name, spec, template = next(item for item in TEMPLATES if item[2]["name"] == "collect")
    with pytest.raises(AssertionError):
        test_no_step_mounts_a_token_it_does_not_use(name, spec, {**template, "automountServiceAccountToken": True})
