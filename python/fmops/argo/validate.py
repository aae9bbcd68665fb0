"""Check rendered (or hand-written) Argo manifests: strict structure, contracts across files, policy.

    fmops validate                  # workflows/
    fmops validate path/to/dir other.yaml

Each problem is one line, `file: Kind/name: yaml.path: message`; exit 1 when there is any.
- structure: a lossless round trip through Hera's generated Argo models: a misspelled or unknown field is
  an error, not silently dropped;
- contracts: the entrypoint exists; every templateRef names a template that exists; every argument passed
  is an input the target declares and every required input is passed; every {{inputs.parameters.X}},
  {{workflow.parameters.X}} and {{tasks.T.outputs.parameters.Y}} reference resolves;
- policy: images pinned (a tag other than latest, or a digest); steps labelled fmops.io/step-kind gpu or
  training carry the nvidia.com/gpu toleration, a nodeSelector and a memory-backed /dev/shm, and a step that
  requests GPUs must be so labelled; every step has a deadline; training steps have retries.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fmops.argo.templates.common import STEP_KIND

ARGO_KINDS = ("WorkflowTemplate", "CronWorkflow", "Workflow", "ClusterWorkflowTemplate")
RUNNABLE = ("container", "script", "resource", "containerSet")
REFERENCE = re.compile(r"\{\{\s*(inputs|workflow|tasks|steps)\.([A-Za-z0-9_.-]+?)\s*\}\}")
EXPRESSION_INPUT = re.compile(r"\{\{=[^}]*?inputs\.parameters\.([A-Za-z0-9_-]+)")
TAG = re.compile(r"\{\{[^}]*\}\}")
UNION_MEMBERS = ("str", "int", "float", "bool")


@dataclass(frozen=True)
class Document:
    file: str
    manifest: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.manifest.get("kind", "?")

    @property
    def name(self) -> str:
        return self.manifest.get("metadata", {}).get("name", "?")

    @property
    def spec_path(self) -> str:
        return "spec.workflowSpec" if self.kind == "CronWorkflow" else "spec"

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.manifest.get("spec") or {}
        return spec.get("workflowSpec", {}) if self.kind == "CronWorkflow" else spec

    def templates(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for index, template in enumerate(self.spec.get("templates") or []):
            yield f"{self.spec_path}.templates[{index}]", template


@dataclass(frozen=True)
class Problem:
    document: Document
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.document.file}: {self.document.kind}/{self.document.name}: {self.path}: {self.message}"


# ---- loading ---------------------------------------------------------------------------------------------


def yaml_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
    return files


def load(paths: list[Path]) -> tuple[list[Document], list[str]]:
    """Argo documents in the files, and one-line errors for files that cannot be read."""
    documents, errors = [], []
    for file in yaml_files(paths):
        try:
            for manifest in yaml.safe_load_all(file.read_text(encoding="utf-8")):
                if isinstance(manifest, dict) and manifest.get("kind") in ARGO_KINDS:
                    documents.append(Document(str(file), manifest))
        except (OSError, yaml.YAMLError) as error:
            errors.append(f"{file}: cannot read: {str(error).splitlines()[0]}")
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


def parameter_names(section: dict[str, Any] | None) -> list[str]:
    return [p.get("name") for p in (section or {}).get("parameters") or []]


def required_inputs(template: dict[str, Any]) -> set[str]:
    return {p["name"] for p in (template.get("inputs") or {}).get("parameters") or []
            if "default" not in p and "value" not in p and "valueFrom" not in p}  # fmt: skip


def template_index(documents: list[Document]) -> dict[tuple[str, str], dict[str, Any]]:
    """(WorkflowTemplate name, template name) -> template, for templateRef lookups."""
    index = {}
    for document in documents:
        if document.kind in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
            for _, template in document.templates():
                index[(document.name, template.get("name"))] = template
    return index


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def invocations(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(relative path, task or step) for every call a DAG or steps template makes."""
    for index, task in enumerate((template.get("dag") or {}).get("tasks") or []):
        yield f"dag.tasks[{index}]", task
    for group_index, group in enumerate(template.get("steps") or []):
        for index, step in enumerate(group or []):
            yield f"steps[{group_index}][{index}]", step


def resolve_target(document: Document, call: dict[str, Any], index: dict) -> tuple[dict | None, str | None]:
    """The template a task or step calls, or an error message."""
    local = {t.get("name"): t for _, t in document.templates()}
    if "templateRef" in call:
        ref = call["templateRef"]
        key = (ref.get("name"), ref.get("template"))
        if (key[0], None) not in {(k[0], None) for k in index}:
            return None, f"templateRef: no WorkflowTemplate named '{key[0]}'"
        if key not in index:
            return None, f"templateRef: WorkflowTemplate '{key[0]}' has no template '{key[1]}'"
        return index[key], None
    if call.get("template") in local:
        return local[call["template"]], None
    if "inline" in call:
        return call["inline"], None
    return None, f"template: no template named '{call.get('template')}' in this file"


def check_calls(document: Document, index: dict) -> list[Problem]:
    problems = []
    for path, template in document.templates():
        outputs_by_task: dict[str, set[str] | None] = {}  # None: the target is unknown, so are its outputs
        for call_path, call in invocations(template):
            where = f"{path}.{call_path}"
            target, error = resolve_target(document, call, index)
            if error:
                problems.append(Problem(document, where, error))
                outputs_by_task[call.get("name")] = None
                continue
            passed = parameter_names(call.get("arguments"))
            declared = parameter_names(target.get("inputs"))
            problems += [Problem(document, f"{where}.arguments", f"'{name}' is not an input of the called template")
                         for name in passed if name not in declared]  # fmt: skip
            problems += [Problem(document, f"{where}.arguments", f"required input '{name}' is not passed")
                         for name in sorted(required_inputs(target) - set(passed))]  # fmt: skip
            outputs_by_task[call.get("name")] = set(parameter_names(target.get("outputs")))
        problems += check_task_references(document, path, template, outputs_by_task)
    return problems


def check_task_references(
    document: Document, path: str, template: dict, outputs: dict[str, set[str] | None]
) -> list[Problem]:
    problems = []
    for text in strings(template):
        for scope, rest in REFERENCE.findall(text):
            if scope not in ("tasks", "steps") or ".outputs.parameters." not in rest:
                continue
            task, _, name = rest.partition(".outputs.parameters.")
            if task not in outputs:
                problems.append(Problem(document, path, f"'{{{{{scope}.{rest}}}}}': no task '{task}' here"))
            elif outputs[task] is not None and name not in outputs[task]:
                problems.append(Problem(document, path, f"'{{{{{scope}.{rest}}}}}': '{task}' has no output '{name}'"))
    return problems


def check_references(document: Document) -> list[Problem]:
    problems = []
    workflow_parameters = set(parameter_names(document.spec.get("arguments")))
    for entry in ("entrypoint", "onExit"):
        name = document.spec.get(entry)
        if name and name not in {t.get("name") for _, t in document.templates()}:
            problems.append(Problem(document, f"{document.spec_path}.{entry}", f"no template named '{name}'"))
    for path, template in document.templates():
        inputs = set(parameter_names(template.get("inputs")))
        for text in strings(template):
            names = [
                rest.removeprefix("parameters.")
                for scope, rest in REFERENCE.findall(text)
                if scope == "inputs" and rest.startswith("parameters.")
            ] + EXPRESSION_INPUT.findall(text)
            problems += [
                Problem(document, path, f"'{{{{inputs.parameters.{n}}}}}': not an input of this template")
                for n in names
                if n not in inputs
            ]
            problems += [Problem(document, path, f"'{{{{workflow.parameters.{rest[11:]}}}}}': not a workflow parameter")
                         for scope, rest in REFERENCE.findall(text)
                         if scope == "workflow" and rest.startswith("parameters.")
                         and rest[11:] not in workflow_parameters]  # fmt: skip
    return problems


# ---- policy ----------------------------------------------------------------------------------------------


def is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest") and "{{" not in image


def embedded_manifest(template: dict[str, Any]) -> dict[str, Any]:
    """A resource template's manifest, with its image input filled in and other variables blanked."""
    text = (template.get("resource") or {}).get("manifest") or ""
    for parameter in (template.get("inputs") or {}).get("parameters") or []:
        if parameter.get("name") == "image" and "default" in parameter:
            text = text.replace("{{inputs.parameters.image}}", str(parameter["default"]))
    try:
        return yaml.safe_load(TAG.sub("0", text)) or {}
    except yaml.YAMLError:
        return {}


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
        return [{"containers": [container], **{k: template[k] for k in ("tolerations", "nodeSelector", "volumes")
                                               if k in template}}]  # fmt: skip
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
    mounted = any(m.get("mountPath") == "/dev/shm" and m.get("name") in memory_volumes
                  for c in pod.get("containers") or [] for m in c.get("volumeMounts") or [])  # fmt: skip
    if not mounted:
        problems.append("GPU step without a memory-backed /dev/shm")
    return problems


def check_policy(document: Document) -> list[Problem]:
    problems = []
    if "activeDeadlineSeconds" not in document.spec:
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


# ---- command ---------------------------------------------------------------------------------------------


def validate(paths: list[Path]) -> list[str]:
    documents, errors = load(paths)
    index = template_index(documents)
    problems: list[Problem] = []
    for document in documents:
        problems += check_structure(document)
        problems += check_references(document)
        problems += check_calls(document, index)
        problems += check_policy(document)
    return errors + [str(p) for p in problems]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, help="files or directories (default: workflows/)")


def run(args: argparse.Namespace) -> int:
    from fmops.argo.render import default_dir

    paths = args.paths or [default_dir()]
    missing = [p for p in paths if not p.exists()]
    if missing:
        from fmops.core.errors import InputError

        raise InputError(f"{missing[0]}: does not exist")
    problems = validate(paths)
    for line in problems:
        print(line, file=sys.stderr)
    documents, _ = load(paths)
    print(f"{len(documents)} documents checked, {len(problems)} problem(s)")
    return 1 if problems else 0
