"""The rendered YAML as a library of templates: load every file, find templates by reference, and say
before a run what on the chosen path this executor cannot run faithfully."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fmops.core.errors import InputError

TAG = re.compile(r"\{\{[^}]*\}\}")
RUNNABLE_KINDS = ("WorkflowTemplate", "Workflow", "CronWorkflow", "ClusterWorkflowTemplate")
# Template fields that change nothing on one machine (scheduling, pod security, lifecycle of pods) are
# accepted and ignored; everything not listed in one of these two sets is reported as unsupported.
TEMPLATE_FIELDS = {
    "name",
    "inputs",
    "outputs",
    "container",
    "script",
    "dag",
    "steps",
    "resource",
    "metadata",
    "activeDeadlineSeconds",
    "retryStrategy",
}
IGNORED_TEMPLATE_FIELDS = {
    "nodeSelector",
    "tolerations",
    "volumes",
    "synchronization",
    "securityContext",
    "serviceAccountName",
    "affinity",
    "priorityClassName",
    "archiveLocation",
    "timeout",
    "automountServiceAccountToken",
    "executor",
    "podSpecPatch",
    "parallelism",
    "failFast",
    "schedulerName",
    "hostAliases",
    "metrics",
}
CONTAINER_FIELDS = {
    "image",
    "command",
    "args",
    "env",
    "resources",
    "volumeMounts",
    "workingDir",
    "securityContext",
    "imagePullPolicy",
    "name",
    "ports",
    "source",
}
TASK_FIELDS = {"name", "template", "templateRef", "arguments", "depends", "dependencies", "when", "continueOn"}


@dataclass(frozen=True)
class Scope:
    """A template and the document it belongs to (local `template:` references resolve within it)."""

    document: dict[str, Any]
    template: dict[str, Any]

    @property
    def spec(self) -> dict[str, Any]:
        return spec_of(self.document)

    @property
    def name(self) -> str:
        return self.template.get("name", "?")


def spec_of(document: dict[str, Any]) -> dict[str, Any]:
    spec = document.get("spec") or {}
    return spec.get("workflowSpec", {}) if document.get("kind") == "CronWorkflow" else spec


class Library:
    def __init__(self, directory: Path):
        self.directory = directory
        self.documents: dict[str, dict[str, Any]] = {}
        if not directory.is_dir():
            raise InputError(f"{directory}: workflows directory does not exist")
        for file in sorted(directory.glob("*.y*ml")):
            try:
                loaded = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
            except yaml.YAMLError as error:
                raise InputError(f"{file}: not valid YAML ({str(error).splitlines()[0]})") from None
            for document in loaded:
                if isinstance(document, dict) and document.get("kind") in RUNNABLE_KINDS:
                    self.documents[document["metadata"].get("name") or document["metadata"]["generateName"]] = document

    def document(self, name: str) -> dict[str, Any]:
        if name not in self.documents:
            known = ", ".join(sorted(self.documents)) or "none"
            raise InputError(
                f"no WorkflowTemplate, CronWorkflow or Workflow named '{name}' in {self.directory} (found: {known})"
            )
        return self.documents[name]

    def local(self, document: dict[str, Any], name: str) -> Scope:
        for template in spec_of(document).get("templates") or []:
            if template.get("name") == name:
                return Scope(document, template)
        raise InputError(f"{document['metadata'].get('name')}: no template named '{name}'")

    def target(self, scope: Scope, call: dict[str, Any]) -> Scope:
        """The template a task or step calls."""
        if "templateRef" in call:
            ref = call["templateRef"]
            return self.local(self.document(ref["name"]), ref["template"])
        return self.local(scope.document, call.get("template", ""))


def resource_kind(template: dict[str, Any]) -> str | None:
    """The kind a resource template's manifest creates (variables blanked so the text parses)."""
    text = TAG.sub("0", (template.get("resource") or {}).get("manifest", ""))
    try:
        manifest = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return manifest.get("kind") if isinstance(manifest, dict) else None


def unsupported_fields(template: dict[str, Any]) -> list[str]:
    """What in one template this executor would not run faithfully."""
    problems = [f"field '{key}'" for key in template if key not in TEMPLATE_FIELDS | IGNORED_TEMPLATE_FIELDS]
    body = template.get("container") or template.get("script")
    if body is not None:
        problems += [f"container field '{key}'" for key in body if key not in CONTAINER_FIELDS]
        if not body.get("command"):
            problems.append("no command (the image's own entrypoint is unknown here)")
        problems += [
            f"env '{e.get('name')}' from {next(iter(e['valueFrom']))}"
            for e in body.get("env") or []
            if "valueFrom" in e and "secretKeyRef" not in e["valueFrom"]
        ]
    if "resource" in template:
        kind = resource_kind(template)
        if kind != "PyTorchJob":
            problems.append(
                f"resource template creating a {kind or 'resource'} (only PyTorchJob maps to local torchrun)"
            )
    for call in (template.get("dag") or {}).get("tasks") or []:
        problems += [f"task '{call.get('name')}' field '{key}'" for key in call if key not in TASK_FIELDS]
    for group in template.get("steps") or []:
        for call in group or []:
            problems += [f"step '{call.get('name')}' field '{key}'" for key in call if key not in TASK_FIELDS]
    return problems
