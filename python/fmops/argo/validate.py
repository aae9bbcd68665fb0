"""Check Argo manifests in three passes, each problem one line `file: Kind/name: yaml.path: message`:
structure (a lossless round trip through Hera's generated Argo models), contracts across files (entrypoints,
templateRefs, arguments, parameter references) and policy (pinned images, GPU placement, deadlines, retries).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fmops.argo.documents import (
    Document,
    Library,
    calls,
    first_line,
    input_references,
    parameter_names,
    parameters,
    read,
    references,
    resource_manifest,
    yaml_files,
)
from fmops.argo.templates.common import STEP_KIND
from fmops.core.errors import InputError

RUNNABLE = ("container", "script", "resource", "containerSet")
UNION_MEMBERS = ("str", "int", "float", "bool")


@dataclass(frozen=True)
class Problem:
    document: Document
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.document.file}: {self.document.kind}/{self.document.name}: {self.path}: {self.message}"


def load(paths: list[Path]) -> tuple[list[Document], list[str]]:
    """Argo documents in the files, and one-line errors for files that cannot be read."""
    documents, errors = [], []
    for file in yaml_files(paths):
        try:
            documents += read(file)
        except (OSError, yaml.YAMLError) as error:
            errors.append(f"{file}: cannot read: {first_line(error)}")
    return documents, errors


# ---- structure -------------------------------------------------------------------------------------------


def hera_model(kind: str) -> type:
    from hera.workflows import models

    return getattr(models, kind)


def dotted(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def dropped_fields(original: Any, kept: Any, path: str) -> Iterator[str]:
    """Paths of fields present in `original` but lost by the model round trip."""
    if isinstance(original, dict) and isinstance(kept, dict):
        for key, value in original.items():
            child = f"{path}.{key}" if path else key
            if key not in kept:
                yield child
            else:
                yield from dropped_fields(value, kept[key], child)
    elif isinstance(original, list) and isinstance(kept, list):
        for index, (value, kept_value) in enumerate(zip(original, kept, strict=False)):
            yield from dropped_fields(value, kept_value, f"{path}[{index}]")


def check_structure(document: Document) -> list[Problem]:
    model = hera_model(document.kind)
    try:
        parsed = model.model_validate(document.manifest)
    except ValidationError as error:
        problems = {}
        for e in error.errors():  # a union type reports once per member: keep one line per field
            location = tuple(part for part in e["loc"] if part not in UNION_MEMBERS)
            problems.setdefault(dotted(location), e["msg"])
        return [Problem(document, path, message) for path, message in problems.items()]
    kept = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    return [Problem(document, path, "unknown field") for path in dropped_fields(document.manifest, kept, "")]


# ---- contracts -------------------------------------------------------------------------------------------


def required_inputs(template: dict[str, Any]) -> set[str]:
    return {
        p["name"]
        for p in parameters(template.get("inputs"))
        if "default" not in p and "value" not in p and "valueFrom" not in p
    }


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def resolve_target(document: Document, call: dict[str, Any], library: Library) -> dict[str, Any]:
    """The template a task or step calls; InputError naming what is missing."""
    if "templateRef" in call:
        return library.template_ref(call["templateRef"] or {}).template
    local = document.template(call.get("template"))
    if local is not None:
        return local
    if "inline" in call:
        return call["inline"]
    raise InputError(f"template: no template named '{call.get('template')}' in this file")


def check_calls(document: Document, library: Library) -> list[Problem]:
    problems = []
    for path, template in document.templates():
        outputs_by_task: dict[str, set[str] | None] = {}  # None: the target is unknown, so are its outputs
        for call_path, call in calls(template):
            where = f"{path}.{call_path}"
            try:
                target = resolve_target(document, call, library)
            except InputError as error:
                problems.append(Problem(document, where, str(error)))
                outputs_by_task[call.get("name")] = None
                continue
            passed = parameter_names(call.get("arguments"))
            declared = parameter_names(target.get("inputs"))
            problems += [
                Problem(document, f"{where}.arguments", f"'{name}' is not an input of the called template")
                for name in passed
                if name not in declared
            ]
            problems += [
                Problem(document, f"{where}.arguments", f"required input '{name}' is not passed")
                for name in sorted(required_inputs(target) - set(passed))
            ]
            outputs_by_task[call.get("name")] = set(parameter_names(target.get("outputs")))
        problems += check_task_references(document, path, template, outputs_by_task)
    return problems


def check_task_references(
    document: Document, path: str, template: dict, outputs: dict[str, set[str] | None]
) -> list[Problem]:
    problems = []
    for text in strings(template):
        for reference in references(text):
            if reference.output is None:
                continue
            task, name = reference.output
            if task not in outputs:
                problems.append(Problem(document, path, f"'{reference}': no task '{task}' here"))
            elif outputs[task] is not None and name not in outputs[task]:
                problems.append(Problem(document, path, f"'{reference}': '{task}' has no output '{name}'"))
    return problems


def check_references(document: Document) -> list[Problem]:
    problems = []
    workflow_parameters = set(parameter_names(document.spec.get("arguments")))
    for entry in ("entrypoint", "onExit"):
        name = document.spec.get(entry)
        if name and document.template(name) is None:
            problems.append(Problem(document, f"{document.spec_path}.{entry}", f"no template named '{name}'"))
    for path, template in document.templates():
        inputs = set(parameter_names(template.get("inputs")))
        for text in strings(template):
            problems += [
                Problem(document, path, f"'{{{{inputs.parameters.{name}}}}}': not an input of this template")
                for name in input_references(text)
                if name not in inputs
            ]
            problems += [
                Problem(document, path, f"'{reference}': not a workflow parameter")
                for reference in references(text)
                if reference.parameter("workflow") not in (None, *workflow_parameters)
            ]
    return problems


# ---- policy ----------------------------------------------------------------------------------------------


def is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest") and "{{" not in image


def embedded_manifest(template: dict[str, Any]) -> dict[str, Any]:
    """A resource template's manifest, with its image input filled in (as a plain tag, or as the toJson tag
    the templates put in manifests) and other variables blanked."""
    image = {}
    for p in parameters(template.get("inputs")):
        if p.get("name") == "image" and "default" in p:
            image["{{inputs.parameters.image}}"] = str(p["default"])
            image['{{=toJson(inputs.parameters["image"])}}'] = json.dumps(str(p["default"]))
    return resource_manifest(template, image)


def pod_specs(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if "containers" in value:
            yield value
        for item in value.values():
            yield from pod_specs(item)
    elif isinstance(value, list):
        for item in value:
            yield from pod_specs(item)


def template_pods(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The template seen as pod specs: itself for a container step, the pods inside a resource manifest."""
    if "container" in template or "script" in template:
        container = template.get("container") or template.get("script")
        pod_fields = {k: template[k] for k in ("tolerations", "nodeSelector", "volumes") if k in template}
        return [{"containers": [container], **pod_fields}]
    return list(pod_specs(embedded_manifest(template)))


def requests_gpus(pod: dict[str, Any]) -> bool:
    return any("nvidia.com/gpu" in str(c.get("resources") or {}) for c in pod.get("containers") or [])


def gpu_problems(pod: dict[str, Any]) -> list[str]:
    problems = []
    if not any(t.get("key") == "nvidia.com/gpu" for t in pod.get("tolerations") or []):
        problems.append("GPU step without the nvidia.com/gpu toleration")
    if not pod.get("nodeSelector"):
        problems.append("GPU step without a nodeSelector for a GPU node pool")
    volumes = pod.get("volumes") or []
    memory_volumes = {v.get("name") for v in volumes if (v.get("emptyDir") or {}).get("medium") == "Memory"}
    mounted = any(
        m.get("mountPath") == "/dev/shm" and m.get("name") in memory_volumes
        for c in pod.get("containers") or []
        for m in c.get("volumeMounts") or []
    )
    if not mounted:
        problems.append("GPU step without a memory-backed /dev/shm")
    return problems


def check_policy(document: Document) -> list[Problem]:
    problems = []
    # A spec that runs a WorkflowTemplate (workflowTemplateRef) takes its deadline from that template.
    if not {"activeDeadlineSeconds", "workflowTemplateRef"} & set(document.spec):
        problems.append(Problem(document, document.spec_path, "no activeDeadlineSeconds"))
    for path, template in document.templates():
        if not any(key in template for key in RUNNABLE):
            continue
        kind = ((template.get("metadata") or {}).get("labels") or {}).get(STEP_KIND, "")
        if "activeDeadlineSeconds" not in template:
            problems.append(Problem(document, path, "no activeDeadlineSeconds"))
        if kind == "training" and not (template.get("retryStrategy") or {}).get("limit"):
            problems.append(Problem(document, path, "training step without a retryStrategy limit"))
        for pod in template_pods(template):
            for container in pod.get("containers") or []:
                if not is_pinned(str(container.get("image", ""))):
                    problems.append(Problem(document, path, f"image '{container.get('image')}' is not pinned"))
            if kind in ("gpu", "training"):
                problems += [Problem(document, path, message) for message in gpu_problems(pod)]
            elif requests_gpus(pod):
                problems.append(Problem(document, path, f"requests GPUs but is not labelled {STEP_KIND}: gpu|training"))
    return problems


# ---- all of it ------------------------------------------------------------------------------------------


def validate(paths: list[Path]) -> list[str]:
    """One line per problem in the files and directories named (none: they are clean)."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise InputError(f"{missing[0]}: does not exist")
    documents, errors = load(paths)
    library = Library(documents)
    problems: list[Problem] = []
    for document in documents:
        problems += check_structure(document)
        problems += check_references(document)
        problems += check_calls(document, library)
        problems += check_policy(document)
    return errors + [str(p) for p in problems]
