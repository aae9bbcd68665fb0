"""How a DAG or steps template walks its calls, as Argo's controller does.

- DAG tasks run as soon as their dependencies are done, and independent ones at once. A DAG fails when a task
  failed and no other task's `depends` handles that failure (mentions its .Failed, .Errored or .AllFailed)
  and its `continueOn` does not allow it; with failFast (the default) no new task starts after such a
  failure. A task whose `depends` turns out false is Omitted, one whose `when` is false is Skipped.
  `dag.target` runs only the named tasks and what they depend on.
- A steps template runs its groups in order, the steps of one group at once, and stops after a group with a
  failed step (unless continueOn).
The walk alone records what its calls ended as (`Finished`); each call gets a snapshot of it (`Siblings`).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from fmops.argo.documents import Scope, called_template
from fmops.argo.local import expressions
from fmops.argo.local.calls import Call, CallResult, Siblings, run_call
from fmops.argo.local.nodes import BAD, Context, Node, TemplateError
from fmops.argo.local.outputs import call_variables
from fmops.argo.local.runtime import Runtime


@dataclass(frozen=True)
class Walked:
    """How a walk ended, and the `tasks.X.*` / `steps.X.*` variables its calls left (for its outputs)."""

    phase: str
    variables: dict[str, Any]


@dataclass
class Finished:
    """What the calls of one DAG or steps template ended as, recorded by its walk as each one ends."""

    phases: dict[str, str] = field(default_factory=dict)
    loops: dict[str, list[str]] = field(default_factory=dict)
    continued: set[str] = field(default_factory=set)
    variables: dict[str, Any] = field(default_factory=dict)

    def record(self, kind: str, name: str, result: CallResult, node: Node, children: list[Node]) -> None:
        self.phases[name] = result.phase
        if result.loop_phases is not None:
            self.loops[name] = result.loop_phases
        if result.continued:
            self.continued.add(name)
        self.variables.update(call_variables(kind, name, node, children))

    def siblings(self) -> Siblings:
        return Siblings(dict(self.phases), dict(self.loops), frozenset(self.continued))

    def failed(self, names: Iterable[str], handled: Iterable[str] = ()) -> list[str]:
        """Those of `names` that failed, with nothing (continueOn, a depends on their failure) to allow it."""
        allowed = self.continued | set(handled)
        return [n for n in names if self.phases.get(n) in BAD and n not in allowed]


def dependencies(call: dict[str, Any]) -> list[str]:
    if "depends" in call:
        return expressions.depends_on(str(call["depends"]))
    return list(call.get("dependencies") or [])


def handled_failures(call: dict[str, Any]) -> set[str]:
    """Tasks whose failure this task's `depends` explicitly reacts to."""
    return expressions.handled_results(str(call.get("depends", "")))


def targeted(dag: dict[str, Any], variables: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The DAG's tasks by name: those `dag.target` names and what they depend on, or all of them."""
    tasks = {task["name"]: task for task in dag.get("tasks") or []}
    target = expressions.substitute(str(dag.get("target") or ""), variables)
    if not target:
        return tasks
    wanted: set[str] = set()
    queue = target.replace(",", " ").split()
    while queue:
        name = queue.pop()
        if name not in tasks:
            raise TemplateError(f"dag.target: no task named '{name}'")
        if name not in wanted:
            wanted.add(name)
            queue += dependencies(tasks[name])
    return {name: task for name, task in tasks.items() if name in wanted}


def stuck(scope: Scope, tasks: dict[str, dict[str, Any]], finished: Finished) -> TemplateError:
    """Why tasks wait with nothing running: a dependency on a task the DAG does not have, or a cycle."""
    waiting = sorted(set(tasks) - set(finished.phases))
    for name in waiting:
        for dependency in dependencies(tasks[name]):
            if dependency not in tasks:
                return TemplateError(f"task '{name}' depends on unknown task '{dependency}'")
    return TemplateError(f"template '{scope.name}': dependency cycle among {waiting}")


def run_dag(engine: Runtime, scope: Scope, template: dict[str, Any], context: Context, parent: str) -> Walked:
    dag = template["dag"] or {}
    tasks = targeted(dag, context.variables)
    fail_fast = dag.get("failFast", True) is not False
    for name, task in tasks.items():
        engine.node(f"{parent}/{name}", called_template(task))
    finished = Finished()
    handled = set().union(*(handled_failures(t) for t in tasks.values()))
    running: dict[Future, str] = {}
    stopped = False
    with engine.pool(len(tasks)) as pool:
        while len(finished.phases) < len(tasks):
            started = set(finished.phases) | set(running.values())
            ready = [n for n, t in tasks.items() if n not in started and set(dependencies(t)) <= set(finished.phases)]
            for name in [] if stopped else ready:
                variables = {**context.variables, **finished.variables, "tasks.name": name}
                call = Call(scope, tasks[name], f"{parent}/{name}", variables, context, finished.siblings())
                running[pool.submit(run_call, engine, call)] = name
            if not running:
                if not stopped:
                    raise stuck(scope, tasks, finished)
                omit_the_rest(engine, tasks, finished, parent)
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                node = engine.nodes[f"{parent}/{name}"]
                finished.record("tasks", name, future.result(), node, engine.children(node))
                stopped = stopped or bool(fail_fast and finished.failed([name], handled))
    return Walked("Failed" if finished.failed(finished.phases, handled) else "Succeeded", finished.variables)


def omit_the_rest(engine: Runtime, tasks: dict[str, dict[str, Any]], finished: Finished, parent: str) -> None:
    """After a failure under failFast: the tasks that never started are Omitted."""
    for name in tasks:
        if name not in finished.phases:
            late = engine.node(f"{parent}/{name}", called_template(tasks[name]))
            phase = engine.update(late, "Omitted", "not started: a task failed (failFast)").phase
            finished.phases[name] = phase


def run_steps(engine: Runtime, scope: Scope, template: dict[str, Any], context: Context, parent: str) -> Walked:
    finished = Finished()
    for group in template["steps"] or []:
        group = group or []
        siblings = finished.siblings()
        calls = [
            Call(
                scope,
                step,
                f"{parent}/{step['name']}",
                {**context.variables, **finished.variables, "steps.name": step["name"]},
                context,
                siblings,
            )
            for step in group
        ]
        with engine.pool(len(group)) as pool:
            futures = [pool.submit(run_call, engine, call) for call in calls]
            results = [future.result() for future in futures]
        for step, result in zip(group, results, strict=True):
            node = engine.nodes[f"{parent}/{step['name']}"]
            finished.record("steps", step["name"], result, node, engine.children(node))
        if finished.failed(step["name"] for step in group):
            return Walked("Failed", finished.variables)
    return Walked("Succeeded", finished.variables)
