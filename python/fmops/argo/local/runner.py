"""Run a WorkflowTemplate of the rendered YAML on this machine, end to end: what `fmops run` calls.

It reads the directory's YAML (the files Argo CD syncs), resolves templateRefs across them, and runs each
container step as a local process in this Python environment (see fmops.argo.local.pods for the local
overrides, fmops.argo.local.profile for the local parameter values). Anything on the selected path that
cannot run faithfully here is reported by name before anything runs.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fmops.argo.documents import Document, Library, Scope, calls, default_dir, parameters
from fmops.argo.local import expressions, profile, report
from fmops.argo.local.engine import Engine, Node
from fmops.argo.local.parameters import bind
from fmops.argo.local.support import unsupported_fields
from fmops.argo.local.view import View
from fmops.core.errors import InputError


@dataclass(frozen=True)
class RunOptions:
    """What to run: a template of `workflows` with `parameters` (as `argo submit -p`) in `workdir`
    (default ./runs/<run-id>); or, with `resume`, an earlier run directory again, skipping what succeeded."""

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


def unsupported_on_path(library: Library, scope: Scope, variables: dict[str, str], seen: set) -> list[str]:
    """What the executor cannot run faithfully on the path these parameters select (statically known
    `when` conditions prune branches; unknown ones keep them)."""
    key = (scope.document.name, scope.name, json.dumps(variables, sort_keys=True))
    if key in seen:
        return []
    seen.add(key)
    where = f"{scope.document.name}/{scope.name}"
    problems = [f"{where}: {problem}" for problem in unsupported_fields(scope.template)]
    outer = {k: v for k, v in variables.items() if not k.startswith("inputs.")}
    for _, call in calls(scope.template):
        when = expressions.substitute(call.get("when", "true"), variables, strict=False)
        if "{{" not in when and not expressions.condition(when):
            continue
        try:
            target = library.target(scope, call)
        except InputError as error:
            problems.append(f"{where}: task '{call.get('name')}': {error}")
            continue
        inputs = bind(parameters(target.template.get("inputs")), expressions.arguments(call, variables, strict=False),
                      expand=lambda text: expressions.substitute(text, outer, strict=False),
                      missing=None, not_allowed=None)  # fmt: skip
        inner = outer | {f"inputs.parameters.{k}": v for k, v in inputs.items()}
        problems += unsupported_on_path(library, target, inner, seen)
    return problems


def workflow_variables(document: Document, run_id: str, values: dict[str, str]) -> dict[str, str]:
    return {
        "workflow.name": run_id,
        "workflow.namespace": document.manifest["metadata"].get("namespace", "default"),
        "workflow.uid": run_id,
        "workflow.creationTimestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        **{f"workflow.parameters.{k}": v for k, v in values.items()},
    }


def start(options: RunOptions) -> tuple[Library, Document, Path, dict[str, str], dict, list[str]]:
    """Library, document, run directory, workflow variables, earlier nodes, notes."""
    if options.resume:
        state_file = options.resume / "run.json"
        spec_file = options.resume / "run-spec.json"
        if not state_file.is_file() or not spec_file.is_file():
            raise InputError(f"{options.resume}: not an fmops run directory (no run.json)")
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        state = json.loads(state_file.read_text(encoding="utf-8"))
        library = Library.load(Path(spec["workflows"]))
        return library, library.document(spec["template"]), options.resume, state["workflow"], state["nodes"], []
    library = Library.load(options.workflows)
    document = library.document(options.template)
    run_id = f"{options.template}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    run_dir = (options.workdir or Path("runs") / run_id).resolve()
    values, notes = profile.workflow_parameters(document.spec, options.parameters, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run-spec.json").write_text(json.dumps(
        {"template": options.template, "workflows": str(options.workflows.resolve()), "parameters": values},
        indent=2) + "\n", encoding="utf-8")  # fmt: skip
    return library, document, run_dir, workflow_variables(document, run_dir.name, values), {}, notes


def failures(nodes: list[Node]) -> list[Node]:
    return [n for n in nodes if n.leaf and n.phase in ("Failed", "Error")]


def run_workflow(options: RunOptions) -> RunResult:
    """Run the workflow (or resume it); progress and the final report on stderr, state in the run directory.
    Raises InputError, before anything runs, for bad parameters or what cannot run faithfully here."""
    library, document, run_dir, variables, previous, notes = start(options)
    entry = library.local(document, document.spec.get("entrypoint", ""))
    problems = unsupported_on_path(library, entry, variables, set())
    exit_handler = document.spec.get("onExit")
    if exit_handler:
        problems += unsupported_on_path(library, library.local(document, exit_handler), variables, set())
    if problems:
        raise InputError("cannot run faithfully on this machine: " + "; ".join(problems))
    name = document.name
    print(f"running {name} as {variables['workflow.name']} in {run_dir}", file=sys.stderr)
    for note in notes:
        print(note, file=sys.stderr)
    with View(f"{name} ({variables['workflow.name']})") as view:
        engine = Engine(library, run_dir, variables, previous, view.update)
        root = engine.run(entry, {}, entry.name)
        if exit_handler:
            failed = [
                {"displayName": n.id, "message": n.message, "phase": n.phase}
                for n in failures(list(engine.nodes.values()))
            ]
            engine.workflow = {**variables, "workflow.status": root.phase, "workflow.failures": json.dumps(failed)}
            engine.run(library.local(document, exit_handler), {}, exit_handler)
    nodes = list(engine.nodes.values())
    report.show(name, root.phase, nodes, run_dir)
    if root.phase != "Succeeded":
        for node in failures(nodes):
            print(f"failed: {node.id}: {node.message}; log: {node.log or '(none)'}", file=sys.stderr)
        print(f"to rerun what did not succeed: fmops run --resume {run_dir}", file=sys.stderr)
    else:
        print(f"{name} succeeded in {root.seconds:.0f}s", file=sys.stderr)
    return RunResult(name, root.phase, run_dir, nodes)
