"""Run a workflow of the rendered YAML on this machine, end to end: what `fmops run` calls.

It reads the directory's YAML (the files Argo CD syncs; or one Workflow file named on the command line, as
`argo submit FILE`), resolves templateRefs and workflowTemplateRefs across them, and runs each container
step as a local process in this Python environment (see fmops.argo.local.pods for the local overrides,
fmops.argo.local.profile for the local parameter values). Anything on the selected path that cannot run
faithfully here is reported by name before anything runs.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from fmops.argo.documents import Document, Library, Scope, calls, default_dir, first_line, parameters, read
from fmops.argo.local import expressions, lint, profile, report, structure
from fmops.argo.local.calls import Call, exit_hook_of, run_one
from fmops.argo.local.engine import Engine, merge, new_uid
from fmops.argo.local.limits import Limits
from fmops.argo.local.nodes import Context, Node
from fmops.argo.local.parameters import bind
from fmops.argo.local.support import duration_seconds, unknown_variables, unsupported_fields, unsupported_spec
from fmops.argo.local.view import View
from fmops.core.errors import InputError


@dataclass(frozen=True)
class RunOptions:
    """What to run: a template of `workflows` (or a YAML file holding a Workflow) with `parameters` (as
    `argo submit -p`) in `workdir` (default ./runs/<run-id>); or, with `resume`, an earlier run directory
    again, skipping what succeeded."""

    template: str = "fmops-pipeline"
    parameters: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None
    workflows: Path = field(default_factory=default_dir)
    resume: Path | None = None


@dataclass(frozen=True)
class RunResult:
    name: str
    phase: str  # the workflow's final phase: Succeeded, Failed or Error
    run_dir: Path
    nodes: list[Node]

    @property
    def succeeded(self) -> bool:
        return self.phase == "Succeeded"


def unsupported_on_path(
    library: Library,
    scope: Scope,
    variables: dict[str, Any],
    seen: set,
    defaults: dict[str, Any] | None = None,
    known: tuple[set, set] | None = None,
) -> list[str]:
    """What the executor cannot run faithfully on the path these parameters select (statically known
    `when` conditions prune branches; unknown ones keep them)."""
    key = (scope.document.name, scope.name, json.dumps(variables, sort_keys=True, default=str))
    if key in seen:
        return []
    seen.add(key)
    where = f"{scope.document.name}/{scope.name}"
    template = merge(defaults, scope.template) if defaults else scope.template
    problems = [f"{where}: {problem}" for problem in unsupported_fields(template)]
    if known is not None:
        problems += [f"{where}: {problem}" for problem in unknown_variables(template, *known)]
    outer = {k: v for k, v in variables.items() if not k.startswith("inputs.")}
    for _, call in calls(template):
        try:
            when = expressions.substitute(str(call.get("when", "true")), variables, strict=False)
            if "{{" not in when and not expressions.condition(when):
                continue
        except InputError:
            pass  # decided when it runs
        hook = exit_hook_of(call)
        for target_call in [call, *([hook] if hook else [])]:
            try:
                target = (
                    Scope(scope.document, {"name": call["name"], **call["inline"]})
                    if target_call.get("inline")
                    else library.target(scope, target_call)
                )
            except InputError as error:
                problems.append(f"{where}: task '{call.get('name')}': {error}")
                continue
            inputs = bind(
                parameters(target.template.get("inputs")),
                expressions.arguments(target_call, variables, strict=False),
                expand=lambda text: expressions.substitute(text, outer, strict=False),
                missing=None,
                not_allowed=None,
            )
            inner = outer | {f"inputs.parameters.{k}": v for k, v in inputs.items()}
            problems += unsupported_on_path(library, target, inner, seen, defaults, known)
    return problems


def workflow_variables(document: Document, run_id: str, values: dict[str, str]) -> dict[str, Any]:
    metadata = document.manifest.get("metadata") or {}
    now = time.time()
    created = datetime.fromtimestamp(now, UTC)
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    variables: dict[str, Any] = {
        "workflow.name": run_id,
        "workflow.namespace": metadata.get("namespace", "default"),
        "workflow.uid": new_uid(),
        "workflow.creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "workflow.creationTimestamp.RFC3339": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "workflow.creationTimestamp.s": str(int(now)),
        "workflow.mainEntrypoint": document.spec.get("entrypoint", ""),
        "workflow.serviceAccountName": document.spec.get("serviceAccountName", "default"),
        "workflow.priority": str(document.spec.get("priority", 0)),
        "workflow.status": "Running",
        "workflow.started": now,
        "workflow.parameters": json.dumps([{"name": k, "value": v} for k, v in values.items()]),
        "workflow.parameters.json": json.dumps([{"name": k, "value": v} for k, v in values.items()]),
        "workflow.labels.json": json.dumps(labels),
        "workflow.annotations.json": json.dumps(annotations),
        **{f"workflow.parameters.{k}": v for k, v in values.items()},
        **{f"workflow.labels.{k}": str(v) for k, v in labels.items()},
        **{f"workflow.annotations.{k}": str(v) for k, v in annotations.items()},
    }
    for letter in "YmdHMSaAbBjUwyIp":
        variables[f"workflow.creationTimestamp.{letter}"] = created.strftime(f"%{letter}")
    return variables


def effective(library: Library, document: Document) -> Document:
    """A Workflow whose spec names a workflowTemplateRef runs that template's spec under its own (its
    arguments by name over the template's), as Argo merges them."""
    ref = document.spec.get("workflowTemplateRef")
    if not ref:
        return document
    kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
    base = library.documents.get(ref.get("name"))
    if base is None or base.kind != kind:
        raise InputError(f"{document.name}: workflowTemplateRef: no {kind} named '{ref.get('name')}'")
    own = {k: v for k, v in document.spec.items() if k != "workflowTemplateRef"}
    spec = merge(base.spec, {k: v for k, v in own.items() if k != "arguments"})
    given = {p["name"]: p for p in parameters(own.get("arguments"))}
    merged = [given.pop(p["name"], p) for p in parameters(base.spec.get("arguments"))] + list(given.values())
    spec["arguments"] = {**(base.spec.get("arguments") or {}), **(own.get("arguments") or {}), "parameters": merged}
    # a CronWorkflow keeps its workflow spec under spec.workflowSpec, beside its schedule
    outer = {**document.manifest["spec"], "workflowSpec": spec} if document.kind == "CronWorkflow" else spec
    resolved = Document(document.file, {**document.manifest, "spec": outer})
    library.documents[resolved.name] = resolved
    return resolved


def load(options: RunOptions) -> tuple[Library, Document]:
    """The library of `--workflows` and the document to run, each document's structure checked."""
    library = Library.load(options.workflows, check=structure.check)
    candidate = Path(options.template)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        try:
            documents = [d for d in read(candidate) if d.kind == "Workflow" or d.kind.endswith("WorkflowTemplate")]
        except (OSError, yaml.YAMLError) as error:
            raise InputError(f"{candidate}: not valid YAML ({first_line(error)})") from None
        if not documents:
            raise InputError(f"{candidate}: no Workflow in this file")
        for document in documents:
            structure.check(document)
        for document in documents:
            library.documents[document.name] = document
        runnable = [d for d in documents if d.kind == "Workflow"] or documents
        return library, effective(library, runnable[0])
    return library, effective(library, library.document(options.template))


def start(options: RunOptions) -> tuple[Library, Document, Path, dict[str, Any], dict, list[str]]:
    """Library, document, run directory, workflow variables, earlier nodes, notes."""
    if options.resume:
        state_file = options.resume / "run.json"
        spec_file = options.resume / "run-spec.json"
        if not state_file.is_file() or not spec_file.is_file():
            raise InputError(f"{options.resume}: not an fmops run directory (no run.json)")
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        state = json.loads(state_file.read_text(encoding="utf-8"))
        library, document = load(RunOptions(template=spec["template"], workflows=Path(spec["workflows"])))
        variables = {**state["workflow"], "workflow.started": time.time()}
        return library, document, options.resume, variables, state["nodes"], []
    library, document = load(options)
    base = document.name.rstrip("-") or "workflow"
    run_id = f"{base}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    run_dir = (options.workdir or Path("runs") / run_id).resolve()
    values, notes = profile.workflow_parameters(document.spec, options.parameters, run_dir, library.config_map)
    run_dir.mkdir(parents=True, exist_ok=True)
    template = str(Path(options.template).resolve()) if Path(options.template).is_file() else options.template
    (run_dir / "run-spec.json").write_text(
        json.dumps(
            {"template": template, "workflows": str(options.workflows.resolve()), "parameters": values}, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    return library, document, run_dir, workflow_variables(document, run_dir.name, values), {}, notes


def failures(nodes: list[Node]) -> list[Node]:
    return [n for n in nodes if n.leaf and n.phase in ("Failed", "Error")]


def exit_call(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The workflow's exit handler as a call: spec.onExit, or spec.hooks.exit."""
    if spec.get("onExit"):
        return {"name": "onExit", "template": spec["onExit"]}
    hook = (spec.get("hooks") or {}).get("exit")
    return {"name": "onExit", **hook} if hook else None


def check(library: Library, document: Document, entry: Scope, variables: dict[str, Any]) -> None:
    """Refuse, before anything runs, what Argo would refuse (a required input not supplied) and what cannot
    run faithfully on the selected path."""
    spec = document.spec
    given = {p["name"] for p in parameters(spec.get("arguments"))}  # each has a value: profile.workflow_parameters
    lint.missing_inputs(library, entry, given, exit_call(spec))
    defaults = spec.get("templateDefaults")
    problems = [f"{document.name}: {problem}" for problem in unsupported_spec(spec)]
    entry_inputs = {
        f"inputs.parameters.{p['name']}": variables.get(f"workflow.parameters.{p['name']}", "")
        for p in parameters(entry.template.get("inputs"))
    }
    known = ({p["name"] for p in parameters(spec.get("arguments"))}, global_names(library))
    problems += unsupported_on_path(library, entry, {**variables, **entry_inputs}, set(), defaults, known)
    handler = exit_call(spec)
    if handler:
        try:
            problems += unsupported_on_path(library, library.target(entry, handler), variables, set(), defaults, known)
        except InputError as error:
            problems.append(f"{document.name}: exit handler: {error}")
    if problems:
        raise InputError("cannot run faithfully on this machine: " + "; ".join(dict.fromkeys(problems)))


def global_names(library: Library) -> set[str]:
    """Every globalName an output declares (a workflow's outputs may come from any template it reaches)."""
    return {
        str(o["globalName"])
        for document in library.documents.values()
        for _, template in document.templates()
        for section in ("parameters", "artifacts")
        for o in (template.get("outputs") or {}).get(section) or []
        if o.get("globalName")
    }


def entry_artifacts(spec: dict[str, Any]) -> dict[str, Any]:
    """spec.arguments.artifacts, passed to the entrypoint's inputs by name."""
    passed = {}
    for artifact in (spec.get("arguments") or {}).get("artifacts") or []:
        if "raw" in artifact:
            passed[artifact["name"]] = {"raw": str((artifact["raw"] or {}).get("data", ""))}
    return passed


def failure_record(node: Node) -> dict[str, str]:
    """A failed node as `{{workflow.failures}}` lists it."""
    return {
        "displayName": node.id,
        "message": node.message,
        "templateName": node.template,
        "phase": node.phase,
        "podName": node.id,
        "finishedAt": "",
    }


def run_exit_handler(engine: Engine, entry: Scope, handler: dict[str, Any], phase: str) -> str:
    """Run the workflow's exit handler, which sees its status and failures; the workflow's phase after it
    (a failing handler fails a workflow that succeeded)."""
    failed = [failure_record(node) for node in failures(list(engine.nodes.values()))]
    engine.workflow.update({"workflow.status": phase, "workflow.failures": json.dumps(failed)})
    handler_id = handler.get("template") or "onExit"
    call = Call(entry, handler, handler_id, engine.current(engine.workflow), Context(dict(engine.workflow)))
    handled = run_one(engine, call)
    return "Failed" if handled in ("Failed", "Error") and phase == "Succeeded" else phase


def run_workflow(options: RunOptions) -> RunResult:
    """Run the workflow (or resume it); progress and the final report on stderr, state in the run directory.
    Raises InputError, before anything runs, for bad parameters or what cannot run faithfully here."""
    library, document, run_dir, variables, previous, notes = start(options)
    spec = document.spec
    entry = library.local(document, spec.get("entrypoint", ""))
    check(library, document, entry, variables)
    name = document.name
    print(f"running {name} as {variables['workflow.name']} in {run_dir}", file=sys.stderr)
    for note in notes:
        print(note, file=sys.stderr)

    def semaphore_size(ref: dict[str, Any]) -> int:
        source = ref.get("configMapKeyRef") or {}
        return int(library.config_map(source.get("name"), source.get("key")))

    limits = Limits(int(spec.get("parallelism") or os.cpu_count() or 1), semaphore_size)
    deadline = (
        time.time() + duration_seconds(str(spec["activeDeadlineSeconds"]))
        if spec.get("activeDeadlineSeconds")
        else None
    )
    values = {
        k.removeprefix("workflow.parameters."): v
        for k, v in variables.items()
        if k.startswith("workflow.parameters.") and k != "workflow.parameters.json"
    }
    with View(f"{name} ({variables['workflow.name']})") as view:
        engine = Engine(
            library,
            run_dir,
            variables,
            previous,
            view.update,
            defaults=spec.get("templateDefaults"),
            limits=limits,
            config_map=library.config_map,
        )
        try:
            with limits.synchronized(spec.get("synchronization")):
                root = engine.run(entry, values, entry.name, Context(dict(variables), deadline), entry_artifacts(spec))
                phase = root.phase
                handler = exit_call(spec)
                if handler:
                    phase = run_exit_handler(engine, entry, handler, phase)
        except KeyboardInterrupt:
            engine.stopping.set()
            raise
    nodes = list(engine.nodes.values())
    report.show(name, phase, nodes, run_dir)
    if phase != "Succeeded":
        for node in failures(nodes):
            print(f"failed: {node.id}: {node.message}; log: {node.log or '(none)'}", file=sys.stderr)
        print(f"to rerun what did not succeed: fmops run --resume {run_dir}", file=sys.stderr)
    else:
        print(f"{name} succeeded in {root.seconds or 0:.0f}s", file=sys.stderr)
    return RunResult(name, phase, run_dir, nodes)
