"""What this executor runs faithfully: the template, container and task fields it understands or may ignore,
and the check, before a run, of one template against them."""

from __future__ import annotations

from typing import Any

from fmops.argo.documents import calls, resource_manifest

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


def resource_kind(template: dict[str, Any]) -> str | None:
    """The kind a resource template's manifest creates."""
    return resource_manifest(template).get("kind")


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
    for path, call in calls(template):
        kind = "task" if path.startswith("dag.") else "step"
        problems += [f"{kind} '{call.get('name')}' field '{key}'" for key in call if key not in TASK_FIELDS]
    return problems
