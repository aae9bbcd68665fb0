"""What this executor runs faithfully: the workflow, template, container and task fields it runs with Argo's
meaning and the ones it ignores (and why that cannot change an outcome on one machine), listed in
supported.yaml, and the check, before a run, of one template against them. Anything else is refused by name
before a step runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fmops.argo.documents import calls, resource_manifest
from fmops.argo.local.jobs import JOB_KINDS, JOB_PLURALS
from fmops.core.errors import InputError

SUPPORTED = yaml.safe_load((Path(__file__).parent / "supported.yaml").read_text(encoding="utf-8"))
SPEC_FIELDS = set(SUPPORTED["spec"])
TEMPLATE_FIELDS = set(SUPPORTED["template"])
CONTAINER_FIELDS = set(SUPPORTED["container"])
TASK_FIELDS = set(SUPPORTED["task"])
ARTIFACT_FIELDS = set(SUPPORTED["artifact"])
IGNORED = {field for fields in SUPPORTED["ignored"].values() for field in fields}
REPOSITORIES = tuple(SUPPORTED["repositories"])
ENTRYPOINTS: dict[str, list[str]] = SUPPORTED["entrypoints"]
WORKFLOW_VARIABLES = set(SUPPORTED["workflow variables"])


def entrypoint(image: str) -> list[str] | None:
    """The entrypoint of a known image (name without registry path and tag), or None."""
    name = re.sub(r"[:@].*$", "", str(image or ""))
    return ENTRYPOINTS.get(name, ENTRYPOINTS.get(name.rsplit("/", 1)[-1]))


def duration_seconds(text: str) -> float:
    """A Kubernetes/Go duration ("30", "30s", "2m", "1h30m", "500ms") in seconds."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise InputError(f"'{text}' is not a duration (such as 30, 30s, 2m, 1h)")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(value) * scale[unit] for value, unit in parts)


def deletes_a_pytorchjob(template: dict[str, Any]) -> bool:
    """A resource template that deletes PyTorchJobs (a training step's exit hook). Locally the job is a torchrun
    whose processes end with their step, so there is nothing left to delete and the node succeeds at once."""
    resource = template.get("resource") or {}
    flags = resource.get("flags") or []
    return resource.get("action") == "delete" and any(str(flag).startswith(JOB_PLURALS) for flag in flags)


# The step that reads from the cluster why a TrainJob failed (fmops.steps.trainjob, templates/trainjob.py).
TRAINJOB_FAILURE_COMMAND = "trainjob-failure"


def reports_a_trainjob_failure(template: dict[str, Any]) -> bool:
    """A step running `fmops trainjob-failure`, which reads the run's TrainJobs from the cluster. Locally a
    TrainJob is processes on this machine and has no API object, so its failure is the failed step beside
    this one (fmops.argo.local.leaf)."""
    body = template.get("container") or {}
    return body.get("command") == ["fmops"] and (body.get("args") or [])[:1] == [TRAINJOB_FAILURE_COMMAND]


def resource_kind(template: dict[str, Any]) -> str | None:
    """The kind a resource template's manifest creates."""
    return resource_manifest(template).get("kind")


def unsupported_spec(spec: dict[str, Any]) -> list[str]:
    """What in a workflow spec this executor would not run faithfully."""
    problems = [f"spec field '{key}'" for key in spec if key not in SPEC_FIELDS | IGNORED]
    for volume in spec.get("volumes") or []:
        problems += volume_problems(volume)
    hooks = spec.get("hooks") or {}
    problems += [f"spec.hooks.{key} (only the exit hook runs locally)" for key in hooks if key != "exit"]
    return problems


def volume_problems(volume: dict[str, Any]) -> list[str]:
    kinds = [k for k in volume if k != "name"]
    if all(k in ("emptyDir", "persistentVolumeClaim", "configMap") for k in kinds):
        return []
    return [f"volume '{volume.get('name')}' of kind {', '.join(kinds)}"]


def unsupported_fields(template: dict[str, Any]) -> list[str]:
    """What in one template this executor would not run faithfully."""
    problems = [f"field '{key}'" for key in template if key not in TEMPLATE_FIELDS | IGNORED]
    bodies = [template.get("container") or template.get("script")]
    container_set = template.get("containerSet")
    if container_set is not None:
        bodies = list(container_set.get("containers") or [])
        problems += [
            f"containerSet field '{key}'" for key in container_set if key not in ("containers", "volumeMounts")
        ]
    for body in [b for b in bodies if b is not None]:
        problems += [f"container field '{key}'" for key in body if key not in CONTAINER_FIELDS | IGNORED]
        if not body.get("command") and entrypoint(body.get("image", "")) is None:
            problems.append(f"no command, and the entrypoint of image '{body.get('image')}' is not known here")
        for entry in body.get("env") or []:
            source = next(iter(entry.get("valueFrom") or {}), None)
            if source not in (None, "secretKeyRef", "configMapKeyRef"):
                problems.append(f"env '{entry.get('name')}' from {source}")
    for volume in template.get("volumes") or []:
        problems += volume_problems(volume)
    if "resource" in template and not deletes_a_pytorchjob(template):
        kind = resource_kind(template)
        if kind not in JOB_KINDS:
            problems.append(
                f"resource template creating a {kind or 'resource'} (only Kubeflow jobs map to local torchrun)"
            )
    if "suspend" in template and not (template["suspend"] or {}).get("duration"):
        problems.append("suspend without a duration (it waits for `argo resume`)")
    for section in ("inputs", "outputs"):
        for artifact in (template.get(section) or {}).get("artifacts") or []:
            problems += [
                f"{section} artifact '{artifact.get('name')}' field '{k}'" for k in artifact if k not in ARTIFACT_FIELDS
            ]
            problems += [
                f"{section} artifact '{artifact.get('name')}' from {k}" for k in ("http", "git") if k in artifact
            ]
    for path, call in calls(template):
        kind = "task" if path.startswith("dag.") else "step"
        problems += [f"{kind} '{call.get('name')}' field '{key}'" for key in call if key not in TASK_FIELDS]
        hooks = call.get("hooks") or {}
        problems += [
            f"{kind} '{call.get('name')}' hook '{key}' (only the exit hook runs locally)"
            for key in hooks
            if key != "exit"
        ]
        for artifact in (call.get("arguments") or {}).get("artifacts") or []:
            problems += [
                f"{kind} '{call.get('name')}' artifact '{artifact.get('name')}' from {k}"
                for k in ("http", "git")
                if k in artifact
            ]
    return problems


CALL_VARIABLES = re.compile(
    r"(id|status|exitCode|startedAt|finishedAt|outputs\.result|outputs\.parameters(\..+)?"
    r"|outputs\.artifacts\..+)$"
)
LEAF_VARIABLES = {"retries", "node.name", "pod.name", "steps.name", "tasks.name", "item"}


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k != "metrics" for s in strings(v)]
    return [s for v in value for s in strings(v)] if isinstance(value, list) else []


def unknown_variables(template: dict[str, Any], workflow_parameters: set[str], global_names: set[str]) -> list[str]:
    """The variables a template uses, in `{{...}}` tags and inside `{{=...}}` expressions, that nothing
    defines where it runs. An expression's names outside these scopes (functions, closures' `#`) are its own."""
    from fmops.argo.documents import SIMPLE_TAG, parameter_names
    from fmops.argo.local.expressions import expression_tags, variable_paths

    inputs = template.get("inputs") or {}
    outputs = template.get("outputs") or {}
    declared = set(parameter_names(inputs))
    artifacts = {a.get("name") for a in inputs.get("artifacts") or []}
    outs = set(parameter_names(outputs)) | {a.get("name") for a in outputs.get("artifacts") or []}
    names = {call.get("name") for _, call in calls(template)}

    def known(name: str, in_expression: bool) -> bool:
        scope, _, rest = name.partition(".")
        if name in LEAF_VARIABLES or scope in ("item", "lastRetry"):
            return True
        if scope == "inputs":
            kind, _, field = rest.partition(".")
            return (
                kind == "parameters"
                and (field in declared or not field)
                or kind == "artifacts"
                and field.removesuffix(".path") in artifacts
            )
        if scope == "outputs":
            kind, _, field = rest.partition(".")
            return field.removesuffix(".path") in outs or rest == "result"
        if scope == "workflow":
            return (
                rest in WORKFLOW_VARIABLES
                or rest.removeprefix("parameters.") in workflow_parameters
                or rest.startswith(("labels.", "annotations.", "creationTimestamp."))
                or rest.startswith("outputs.")
                and rest.split(".", 2)[-1] in global_names
            )
        if scope in ("steps", "tasks"):
            call, _, field = rest.partition(".")
            return call in names and bool(CALL_VARIABLES.match(field))
        return in_expression  # a function or an expression's own name

    unknown = []
    for text in strings({k: v for k, v in template.items() if k != "name"}):
        unknown += [f"unknown variable '{{{{{name}}}}}'" for name in SIMPLE_TAG.findall(text) if not known(name, False)]
        for expression in expression_tags(text):
            unknown += [
                f"unknown variable '{name}' in '{{{{={expression.strip()}}}}}'"
                for name in variable_paths(expression)
                if not known(name, True)
            ]
    return list(dict.fromkeys(unknown))
