"""Run a committed WorkflowTemplate on this machine, end to end: the project's main job.

    fmops run                                  # fmops-pipeline: the whole lifecycle, tiny model, demo data
    fmops run fmops-sft -p model=runs/x/storage/runs/x/pretrain -p data=demo/sft.jsonl -p output=out/sft
    fmops run --resume runs/fmops-pipeline-20261127-120000   # rerun only what did not succeed

It reads workflows/*.yaml (the files Argo CD syncs), resolves templateRefs across them, and runs each
container step as a local process in this Python environment (see fmops.argo.local.pods for the local
overrides, fmops.argo.local.profile for the local parameter values). Anything on the selected path that cannot
run faithfully here is reported by name before anything runs.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmops.argo.local import expressions, profile, report
from fmops.argo.local.engine import Engine, Node
from fmops.argo.local.library import Library, Scope, spec_of, unsupported_fields
from fmops.argo.local.view import View
from fmops.core.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("template", nargs="?", default="fmops-pipeline", help="WorkflowTemplate to run")
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="workflow parameter (repeatable), as with argo submit -p",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="run directory (default ./runs/<run-id>)")
    parser.add_argument("--workflows", type=Path, default=None, help="directory of YAML (default workflows/)")
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="rerun an earlier run, skipping the steps that succeeded",
    )


def unsupported_on_path(library: Library, scope: Scope, variables: dict[str, str], seen: set) -> list[str]:
    """What the executor cannot run faithfully on the path these parameters select (statically known
    `when` conditions prune branches; unknown ones keep them)."""
    key = (scope.document["metadata"]["name"], scope.name, json.dumps(variables, sort_keys=True))
    if key in seen:
        return []
    seen.add(key)
    where = f"{scope.document['metadata']['name']}/{scope.name}"
    problems = [f"{where}: {problem}" for problem in unsupported_fields(scope.template)]
    calls = list((scope.template.get("dag") or {}).get("tasks") or [])
    calls += [step for group in scope.template.get("steps") or [] for step in group]
    for call in calls:
        when = expressions.substitute(call.get("when", "true"), variables, strict=False)
        if "{{" not in when and not expressions.condition(when):
            continue
        try:
            target = library.target(scope, call)
        except InputError as error:
            problems.append(f"{where}: task '{call.get('name')}': {error}")
            continue
        passed = {
            p["name"]: expressions.substitute(str(p.get("value", "")), variables, strict=False)
            for p in (call.get("arguments") or {}).get("parameters") or []
        }
        defaults = {
            p["name"]: str(p.get("default", "")) for p in (target.template.get("inputs") or {}).get("parameters") or []
        }
        inner = {k: v for k, v in variables.items() if not k.startswith("inputs.")}
        inner |= {f"inputs.parameters.{k}": v for k, v in {**defaults, **passed}.items()}
        problems += unsupported_on_path(library, target, inner, seen)
    return problems


def workflow_variables(document: dict[str, Any], run_id: str, parameters: dict[str, str]) -> dict[str, str]:
    return {
        "workflow.name": run_id,
        "workflow.namespace": document["metadata"].get("namespace", "default"),
        "workflow.uid": run_id,
        "workflow.creationTimestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        **{f"workflow.parameters.{k}": v for k, v in parameters.items()},
    }


def start(args: argparse.Namespace) -> tuple[Library, dict, Path, dict[str, str], dict, list[str]]:
    """Library, document, run directory, workflow variables, earlier nodes, notes."""
    if args.resume:
        state_file = args.resume / "run.json"
        spec_file = args.resume / "run-spec.json"
        if not state_file.is_file() or not spec_file.is_file():
            raise InputError(f"{args.resume}: not an fmops run directory (no run.json)")
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        state = json.loads(state_file.read_text(encoding="utf-8"))
        library = Library(Path(spec["workflows"]))
        return library, library.document(spec["template"]), args.resume, state["workflow"], state["nodes"], []
    from fmops.argo.render import default_dir

    library = Library(args.workflows or default_dir())
    document = library.document(args.template)
    run_id = f"{args.template}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    run_dir = (args.workdir or Path("runs") / run_id).resolve()
    parameters, notes = profile.workflow_parameters(
        spec_of(document), profile.parse_assignments(args.parameter), run_dir
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run-spec.json").write_text(json.dumps(
        {"template": args.template, "workflows": str(library.directory.resolve()), "parameters": parameters},
        indent=2) + "\n", encoding="utf-8")  # fmt: skip
    return library, document, run_dir, workflow_variables(document, run_dir.name, parameters), {}, notes


def failures(nodes: list[Node]) -> list[Node]:
    return [n for n in nodes if n.leaf and n.phase in ("Failed", "Error")]


def interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a CI timeout, `kill`) stops the run like Ctrl-C: the running step's processes are stopped too."""
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, interrupt)
    library, document, run_dir, variables, previous, notes = start(args)
    entry = library.local(document, spec_of(document).get("entrypoint", ""))
    problems = unsupported_on_path(library, entry, variables, set())
    exit_handler = spec_of(document).get("onExit")
    if exit_handler:
        problems += unsupported_on_path(library, library.local(document, exit_handler), variables, set())
    if problems:
        raise InputError("cannot run faithfully on this machine: " + "; ".join(problems))
    name = document["metadata"]["name"]
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
        return 1
    print(f"{name} succeeded in {root.seconds:.0f}s", file=sys.stderr)
    return 0
