"""One model of Argo YAML, shared by render, validate and the local executor.

- which kinds are runnable and where each keeps its workflow spec (`spec`, or `spec.workflowSpec` for a
  CronWorkflow);
- loading files into Documents, and finding templates by name, locally and through a `templateRef`
  (`name`/`template`, `clusterScope` choosing ClusterWorkflowTemplate over WorkflowTemplate);
- the `{{...}}` tag patterns and the parameter references they make.
Keeping this in one place means the validator and the executor cannot disagree about what a file says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fmops.argo.local.limits import MAX_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES
from fmops.core.errors import InputError

RUNNABLE_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")

# `{{...}}` tags: any tag (blanked where text must parse), a simple variable, an expression `{{=...}}`.
TAG = re.compile(r"\{\{[^}]*\}\}")
SIMPLE_TAG = re.compile(r"\{\{\s*([^=}][^}]*?)\s*\}\}")
EXPRESSION_TAG = re.compile(r"\{\{=([^}]*)\}\}")
# The scopes a template's variables come from: `{{inputs.parameters.x}}`, `{{workflow.parameters.x}}`,
# `{{tasks.t.outputs.parameters.y}}`, `{{steps.s.outputs.parameters.y}}` (and others, such as workflow.name).
REFERENCE = re.compile(r"\{\{\s*(inputs|workflow|tasks|steps)\.([A-Za-z0-9_.-]+?)\s*\}\}")
EXPRESSION_INPUT = re.compile(r"inputs\.parameters\.([A-Za-z0-9_-]+)")
OUTPUT_PARAMETERS = ".outputs.parameters."


def default_dir() -> Path:
    """workflows/ of the checkout this package runs from (or of the current directory)."""
    checkout = Path(__file__).resolve().parents[3] / "workflows"
    return checkout if checkout.is_dir() else Path.cwd() / "workflows"


# ---- documents -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """One runnable Argo resource and the file it came from."""

    file: str
    manifest: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.manifest.get("kind", "?")

    @property
    def name(self) -> str:
        metadata = self.manifest.get("metadata") or {}
        return metadata.get("name") or metadata.get("generateName") or "?"

    @property
    def spec_path(self) -> str:
        return "spec.workflowSpec" if self.kind == "CronWorkflow" else "spec"

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.manifest.get("spec") or {}
        return spec.get("workflowSpec", {}) if self.kind == "CronWorkflow" else spec

    def templates(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(yaml path, template) for each template of the spec."""
        for index, template in enumerate(self.spec.get("templates") or []):
            yield f"{self.spec_path}.templates[{index}]", template

    def template(self, name: str) -> dict[str, Any] | None:
        return next((t for _, t in self.templates() if t.get("name") == name), None)


@dataclass(frozen=True)
class Scope:
    """A template and the document it belongs to (local `template:` references resolve within it)."""

    document: Document
    template: dict[str, Any]

    @property
    def name(self) -> str:
        return self.template.get("name", "?")


def yaml_files(paths: list[Path]) -> list[Path]:
    """The files named, and the *.yaml and *.yml files of the directories named."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
    return files


class BoundedLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a document nested deeper than MAX_YAML_DEPTH, or one whose aliases expand
    it beyond MAX_YAML_NODES nodes (a "billion laughs" file), or that refers to itself: every reader of a
    manifest walks it in full, so what it would expand to is what it costs."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.YAMLError(f"nested deeper than {MAX_YAML_DEPTH} levels (line {mark.line + 1})")
            return super().compose_node(parent, index)  # type: ignore[misc]  # untyped in PyYAML
        finally:
            self.depth -= 1

    def construct_document(self, node: yaml.Node) -> Any:
        expanded_size(node, {})
        return super().construct_document(node)


def expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes `node` stands for with every alias expanded; YAMLError past MAX_YAML_NODES."""
    if id(node) in sizes:
        if sizes[id(node)] < 0:
            raise yaml.YAMLError(f"an alias refers to itself (line {node.start_mark.line + 1})")
        return sizes[id(node)]
    sizes[id(node)] = -1
    parts = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else node.value
    size = 1 + (sum(expanded_size(part, sizes) for part in parts) if isinstance(parts, list) else 0)
    if size > MAX_YAML_NODES:
        raise yaml.YAMLError(f"its aliases expand it beyond {MAX_YAML_NODES} nodes")
    sizes[id(node)] = size
    return size


def load_all(file: Path) -> list[Any]:
    """The YAML documents of a file, bounded in size, depth and alias expansion.
    Raises OSError or yaml.YAMLError."""
    if file.is_file() and file.stat().st_size > MAX_FILE_BYTES:
        raise yaml.YAMLError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise yaml.YAMLError(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    return list(yaml.load_all(text, Loader=BoundedLoader))  # BoundedLoader is a SafeLoader


def read(file: Path) -> list[Document]:
    """The runnable documents of one file; other kinds (ConfigMaps, kustomize files) are skipped.
    Raises OSError or yaml.YAMLError: the caller decides whether an unreadable file stops it."""
    return [
        Document(str(file), manifest)
        for manifest in load_all(file)
        if isinstance(manifest, dict) and manifest.get("kind") in RUNNABLE_KINDS
    ]


def first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def config_maps(file: Path) -> dict[str, dict[str, str]]:
    """name -> data of each ConfigMap in a file (workflows read parameters and semaphore sizes from them)."""
    found = {}
    for manifest in load_all(file):
        if isinstance(manifest, dict) and manifest.get("kind") == "ConfigMap":
            metadata, data = manifest.get("metadata") or {}, manifest.get("data") or {}
            if not isinstance(metadata, dict) or not isinstance(data, dict):
                raise yaml.YAMLError("a ConfigMap's metadata and data must be mappings")
            found[str(metadata.get("name", "?"))] = data
    return found


class Library:
    """Documents by name, with templates found locally and through templateRefs across them."""

    def __init__(self, documents: list[Document], where: str = "", maps: dict[str, dict[str, str]] | None = None):
        self.where = where
        self.documents = {document.name: document for document in documents}
        self.config_maps = dict(maps or {})

    def config_map(self, name: str, key: str) -> str:
        """A ConfigMap's key, as a pod or a parameter's valueFrom.configMapKeyRef reads it."""
        data = self.config_maps.get(name)
        if data is None or key not in data:
            raise InputError(f"configMapKeyRef: no ConfigMap '{name}' with key '{key}' in {self.where}")
        return str(data[key])

    @classmethod
    def load(cls, directory: Path, check: Callable[[Document], None] | None = None) -> Library:
        """Every runnable document under `directory`; an unreadable file is bad input, and so is a document
        `check` (which raises InputError) refuses."""
        if not directory.is_dir():
            raise InputError(f"{directory}: workflows directory does not exist")
        documents, maps = [], {}
        for file in yaml_files([directory]):
            try:
                found = read(file)
                maps |= config_maps(file)
            except (OSError, yaml.YAMLError) as error:
                raise InputError(f"{file}: not valid YAML ({first_line(error)})") from None
            for document in found if check is not None else []:
                check(document)
            documents += found
        return cls(documents, str(directory), maps)

    def document(self, name: str) -> Document:
        """The document named `name`; a Workflow with only generateName answers to it with and without its
        trailing '-'."""
        if name not in self.documents and f"{name}-" in self.documents:
            name = f"{name}-"
        if name not in self.documents:
            known = ", ".join(sorted(self.documents)) or "none"
            raise InputError(
                f"no WorkflowTemplate, CronWorkflow or Workflow named '{name}' in {self.where} (found: {known})"
            )
        return self.documents[name]

    def local(self, document: Document, name: str) -> Scope:
        template = document.template(name)
        if template is None:
            raise InputError(f"{document.name}: no template named '{name}'")
        return Scope(document, template)

    def template_ref(self, ref: dict[str, Any]) -> Scope:
        """The template a `templateRef` names: in a ClusterWorkflowTemplate when clusterScope is true,
        in a WorkflowTemplate otherwise (as Argo resolves it)."""
        kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
        name, template_name = ref.get("name"), ref.get("template")
        document = self.documents.get(name)
        if document is None or document.kind != kind:
            raise InputError(f"templateRef: no {kind} named '{name}'")
        template = document.template(template_name)
        if template is None:
            raise InputError(f"templateRef: {kind} '{name}' has no template '{template_name}'")
        return Scope(document, template)

    def target(self, scope: Scope, call: dict[str, Any]) -> Scope:
        """The template a task or step calls: through its templateRef, or by name in the caller's document."""
        if "templateRef" in call:
            return self.template_ref(call["templateRef"] or {})
        return self.local(scope.document, call.get("template", ""))


# ---- templates -------------------------------------------------------------------------------------------


def parameters(section: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The `parameters` list of an inputs, outputs or arguments section (any of them may be absent)."""
    return list((section or {}).get("parameters") or [])


def parameter_names(section: dict[str, Any] | None) -> list[str]:
    return [p.get("name") for p in parameters(section)]


def calls(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(relative path, task or step) for every call a DAG or steps template makes."""
    for index, task in enumerate((template.get("dag") or {}).get("tasks") or []):
        yield f"dag.tasks[{index}]", task
    for group_index, group in enumerate(template.get("steps") or []):
        for index, step in enumerate(group or []):
            yield f"steps[{group_index}][{index}]", step


def called_template(call: dict[str, Any]) -> str:
    """The name of the template a task or step calls (its templateRef's template, if it has one)."""
    return call.get("template") or (call.get("templateRef") or {}).get("template")


def resource_manifest(template: dict[str, Any], known: dict[str, str] | None = None) -> dict[str, Any]:
    """A resource template's manifest: the `known` tags filled in, every other tag blanked so the text
    parses; {} when it does not."""
    text = (template.get("resource") or {}).get("manifest") or ""
    for tag, value in (known or {}).items():
        text = text.replace(tag, value)
    try:
        manifest = yaml.safe_load(TAG.sub("0", text))
    except yaml.YAMLError:
        return {}
    return manifest if isinstance(manifest, dict) else {}


# ---- parameter references --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """One `{{scope.path}}` variable a text mentions."""

    scope: str  # inputs | workflow | tasks | steps
    path: str

    def __str__(self) -> str:
        return f"{{{{{self.scope}.{self.path}}}}}"

    def parameter(self, scope: str) -> str | None:
        """X of `{{<scope>.parameters.X}}`, else None."""
        prefix = "parameters."
        return self.path.removeprefix(prefix) if self.scope == scope and self.path.startswith(prefix) else None

    @property
    def output(self) -> tuple[str, str] | None:
        """(task or step, output name) of `{{tasks.T.outputs.parameters.Y}}` / `{{steps...}}`, else None."""
        if self.scope not in ("tasks", "steps") or OUTPUT_PARAMETERS not in self.path:
            return None
        call, _, name = self.path.partition(OUTPUT_PARAMETERS)
        return call, name


def references(text: str) -> list[Reference]:
    return [Reference(scope, path) for scope, path in REFERENCE.findall(text)]


def input_references(text: str) -> list[str]:
    """Every input parameter a text uses, in simple tags and inside `{{=...}}` expressions."""
    names = [name for reference in references(text) if (name := reference.parameter("inputs")) is not None]
    return names + [name for tag in EXPRESSION_TAG.findall(text) for name in EXPRESSION_INPUT.findall(tag)]
