"""What Argo refuses when a workflow is submitted, before any step runs, and this executor would otherwise
only meet halfway through a run: a call that does not supply an input its template requires.

Argo binds a template's inputs from the arguments of the task or step that calls it (the entrypoint and the
workflow's exit handler: from the workflow's `arguments`), and an input with no value, default or valueFrom
that nothing supplies fails its lint with `inputs.parameters.<name> was not supplied`, on every branch,
whatever its `when`.
"""

from __future__ import annotations

from typing import Any

from fmops.argo.documents import Library, Scope, calls, parameters
from fmops.argo.local.calls import exit_hook_of
from fmops.core.errors import InputError

GIVES_A_VALUE = ("value", "default", "valueFrom")


def supplied(arguments: dict[str, Any] | None) -> set[str]:
    """The parameter names an `arguments` section supplies (a name alone, without a value, supplies nothing)."""
    return {p["name"] for p in parameters(arguments) if "value" in p or "valueFrom" in p}


def not_supplied(template: dict[str, Any], given: set[str]) -> list[str]:
    """The inputs of `template` that need a value and are not among the names `given` a value."""
    needed = [p["name"] for p in parameters(template.get("inputs")) if not any(k in p for k in GIVES_A_VALUE)]
    return [f"inputs.parameters.{name} was not supplied" for name in needed if name not in given]


def missing_inputs(
    library: Library, entry: Scope, workflow_parameters: set[str], exit_handler: dict[str, Any] | None
) -> None:
    """Raise one line naming every call (file, template, task or step) that leaves a required input unset.
    `workflow_parameters`: the workflow's parameters, every one with its value (`-p` or the declared one)."""
    problems = [
        f"{entry.document.file}: entrypoint '{entry.name}': {p}"
        for p in not_supplied(entry.template, workflow_parameters)
    ]
    seen: set[int] = set()
    problems += walk(library, entry, seen)
    if exit_handler:
        try:
            handler = library.target(entry, exit_handler)
        except InputError:
            handler = None  # refused by name with what cannot run
        if handler is not None:
            where = f"{entry.document.file}: exit handler '{handler.name}'"
            problems += [f"{where}: {p}" for p in not_supplied(handler.template, workflow_parameters)]
            problems += walk(library, handler, seen)
    if problems:
        raise InputError("; ".join(dict.fromkeys(problems)))


def walk(library: Library, scope: Scope, seen: set[int]) -> list[str]:
    """The unsupplied inputs of every call under `scope`, and under the templates those calls reach."""
    if id(scope.template) in seen:
        return []
    seen.add(id(scope.template))
    problems = []
    for path, call in calls(scope.template):
        kind = "task" if path.startswith("dag.") else "step"
        hook = exit_hook_of(call)
        for each, what in [
            (call, f"{kind} '{call.get('name')}'"),
            *([(hook, f"{kind} '{call.get('name')}' exit hook")] if hook else []),
        ]:
            target = called(library, scope, call, each)
            if target is None:
                continue
            where = f"{scope.document.file}: template '{scope.name}': {what}"
            problems += [f"{where}: {p}" for p in not_supplied(target.template, supplied(each.get("arguments")))]
            problems += walk(library, target, seen)
    return problems


def called(library: Library, scope: Scope, call: dict[str, Any], each: dict[str, Any]) -> Scope | None:
    """The template a call (or its exit hook) runs; None where it names none (refused elsewhere by name)."""
    if each.get("inline"):
        return Scope(scope.document, each["inline"])
    try:
        return library.target(scope, each)
    except InputError:
        return None
