"""Walk a workflow like Argo's controller does, on one machine: DAGs and steps in dependency order,
`when`, retries, parameters between tasks and across templateRefs, an exit handler.

Tasks of a DAG run one at a time, in the order they become ready (their declaration order among the
ready ones). A DAG fails when a task failed and no other task's `depends` handles that failure
(mentions its .Failed, .Errored or .AllFailed); a task whose `depends` turns out false is Omitted, one
whose `when` is false is Skipped; the dependants of a failed task are not run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fmops.argo.documents import Library, Scope, called_template, parameters
from fmops.argo.local import expressions, pods
from fmops.argo.local.parameters import bind
from fmops.argo.local.support import resource_kind
from fmops.core.errors import InputError

DONE = ("Succeeded", "Failed", "Error", "Skipped", "Omitted")


@dataclass
class Node:
    id: str
    template: str
    phase: str = "Pending"
    started: float | None = None
    finished: float | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    message: str = ""
    attempts: int = 0
    log: str = ""
    leaf: bool = True

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started


class Engine:
    def __init__(
        self,
        library: Library,
        run_dir: Path,
        workflow: dict[str, str],
        previous: dict[str, dict[str, Any]] | None = None,
        observer: Callable[[Node], None] | None = None,
    ):
        self.library = library
        self.run_dir = run_dir
        self.workflow = workflow  # workflow.name, workflow.parameters.x, ...
        self.previous = previous or {}
        self.observer = observer or (lambda node: None)
        self.nodes: dict[str, Node] = {}

    # ---- bookkeeping -------------------------------------------------------------------------------------

    def node(self, node_id: str, template: str, leaf: bool = True) -> Node:
        if node_id not in self.nodes:
            self.nodes[node_id] = Node(node_id, template, leaf=leaf)
        return self.nodes[node_id]

    def update(self, node: Node, phase: str, message: str = "") -> Node:
        node.phase = phase
        if phase == "Running" and node.started is None:
            node.started = time.time()
        if phase in DONE:
            node.finished = time.time()
        node.message = message or node.message
        self.observer(node)
        self.save()
        return node

    def save(self) -> None:
        state = {"workflow": self.workflow, "nodes": {k: asdict(v) for k, v in self.nodes.items()}}
        (self.run_dir / "run.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")

    # ---- templates ---------------------------------------------------------------------------------------

    def resolve_inputs(self, scope: Scope, passed: dict[str, str]) -> dict[str, str]:
        where = f"template '{scope.name}'"
        return bind(parameters(scope.template.get("inputs")), passed,
                    expand=lambda text: expressions.substitute(text, self.workflow),
                    missing=where + ": required input '{name}' was not passed",
                    not_allowed=where + ": input '{name}'={value!r} is not one of {enum}")  # fmt: skip

    def run(self, scope: Scope, passed: dict[str, str], node_id: str) -> Node:
        """Run a template as node `node_id`; returns the finished node."""
        template = scope.template
        composite = "dag" in template or "steps" in template
        node = self.node(node_id, scope.name)
        node.leaf = not composite
        earlier = self.previous.get(node_id)
        if not composite and earlier and earlier["phase"] == "Succeeded":
            node.outputs, node.attempts, node.log = earlier["outputs"], earlier["attempts"], earlier["log"]
            node.started, node.finished = earlier["started"], earlier["finished"]
            return self.update(node, "Succeeded", "reused from the earlier run")
        try:
            inputs = self.resolve_inputs(scope, passed)
        except InputError as error:
            return self.update(node, "Error", str(error))
        variables = {**self.workflow, **{f"inputs.parameters.{k}": v for k, v in inputs.items()}}
        self.update(node, "Running")
        if "dag" in template:
            return self.finish_composite(node, scope, variables, self.run_dag(scope, variables, node_id))
        if "steps" in template:
            return self.finish_composite(node, scope, variables, self.run_steps(scope, variables, node_id))
        return self.run_leaf(node, scope, variables)

    def finish_composite(self, node: Node, scope: Scope, variables: dict[str, str], result: tuple[str, dict]) -> Node:
        phase, scope_variables = result
        if phase == "Succeeded":
            try:
                node.outputs = composite_outputs(scope.template, {**variables, **scope_variables})
            except InputError as error:
                return self.update(node, "Failed", str(error))
        failed = [
            n.id for n in self.nodes.values() if n.id.startswith(node.id + "/") and n.phase in ("Failed", "Error")
        ]
        return self.update(node, phase, "" if phase == "Succeeded" else f"failed: {', '.join(failed)}")

    def run_leaf(self, node: Node, scope: Scope, variables: dict[str, str]) -> Node:
        directory = self.run_dir / "steps" / node.id.replace("/", ".")
        directory.mkdir(parents=True, exist_ok=True)
        node.log = str(directory / "log.txt")
        retry = scope.template.get("retryStrategy") or {}
        limit = int(str(retry.get("limit", 0)))
        while True:
            node.attempts += 1
            try:
                if "resource" in scope.template:
                    if resource_kind(scope.template) != "PyTorchJob":
                        return self.update(node, "Error", "resource templates other than PyTorchJob cannot run locally")
                    process = pods.pytorchjob_process(scope.template, variables, directory)
                else:
                    process = pods.container_process(scope.template, variables, directory)
            except InputError as error:
                return self.update(node, "Error", str(error))
            for note in process.notes:
                node.message = note
            outcome = pods.execute(process, Path(node.log))
            if outcome.phase == "Succeeded":
                try:
                    node.outputs = pods.read_outputs(scope.template, process, self.run_dir / "artifacts" / node.id)
                    retried = f"succeeded on attempt {node.attempts}" if node.attempts > 1 else ""
                    return self.update(node, "Succeeded", "; ".join([*process.notes, retried]).strip("; "))
                except InputError as error:
                    outcome = pods.Outcome("Failed", 0, str(error))
            if node.attempts > limit or not retryable(retry, outcome):
                return self.update(node, outcome.phase, outcome.message)
            self.update(
                node, "Running", f"attempt {node.attempts} {outcome.phase.lower()} ({outcome.message}); retrying"
            )

    # ---- DAG and steps -----------------------------------------------------------------------------------

    def run_dag(self, scope: Scope, variables: dict[str, str], parent: str) -> tuple[str, dict[str, str]]:
        tasks = scope.template["dag"].get("tasks") or []
        for task in tasks:
            self.node(f"{parent}/{task['name']}", called_template(task))
        results: dict[str, str] = {}
        scope_variables: dict[str, str] = {}
        handled: set[str] = set()
        while len(results) < len(tasks):
            ready = [t for t in tasks if t["name"] not in results and all(d in results for d in dependencies(t))]
            if not ready:
                waiting = sorted({t["name"] for t in tasks} - set(results))
                raise InputError(f"template '{scope.name}': dependency cycle among {waiting}")
            task = ready[0]
            handled |= handled_failures(task)
            phase = self.run_call(scope, task, {**variables, **scope_variables}, results, f"{parent}/{task['name']}")
            results[task["name"]] = phase
            scope_variables.update(call_variables("tasks", task["name"], self.nodes[f"{parent}/{task['name']}"]))
        unhandled = [name for name, phase in results.items() if phase in ("Failed", "Error") and name not in handled]
        return ("Failed" if unhandled else "Succeeded"), scope_variables

    def run_steps(self, scope: Scope, variables: dict[str, str], parent: str) -> tuple[str, dict[str, str]]:
        scope_variables: dict[str, str] = {}
        results: dict[str, str] = {}
        for group in scope.template["steps"]:
            for step in group:
                node_id = f"{parent}/{step['name']}"
                results[step["name"]] = self.run_call(scope, step, {**variables, **scope_variables}, results, node_id)
                scope_variables.update(call_variables("steps", step["name"], self.nodes[node_id]))
            if any(results[s["name"]] in ("Failed", "Error") and not (s.get("continueOn") or {}) for s in group):
                return "Failed", scope_variables
        return "Succeeded", scope_variables

    def run_call(
        self, scope: Scope, call: dict[str, Any], variables: dict[str, str], results: dict[str, str], node_id: str
    ) -> str:
        """Run one task or step: depends, arguments, when, then the target template."""
        node = self.node(node_id, called_template(call))
        try:
            if "depends" in call and not expressions.depends(call["depends"], results):
                return self.update(node, "Omitted", f"depends: {call['depends']}").phase
            if "dependencies" in call and any(results[d] not in ("Succeeded", "Skipped") for d in call["dependencies"]):
                return self.update(node, "Omitted", "a dependency did not succeed").phase
            if "when" in call and not expressions.condition(expressions.substitute(call["when"], variables)):
                return self.update(node, "Skipped", f"when: {call['when']}").phase
            arguments = expressions.arguments(call, variables)
            target = self.library.target(scope, call)
        except InputError as error:
            return self.update(node, "Error", str(error)).phase
        return self.run(target, arguments, node_id).phase


def dependencies(call: dict[str, Any]) -> list[str]:
    if "depends" in call:
        return expressions.depends_on(call["depends"])
    return list(call.get("dependencies") or [])


def handled_failures(call: dict[str, Any]) -> set[str]:
    """Tasks whose failure this task's `depends` explicitly reacts to."""
    text = call.get("depends", "")
    return (
        {
            word.rpartition(".")[0]
            for kind, word in expressions.tokens(text)
            if kind == "word" and word.rsplit(".", 1)[-1] in ("Failed", "Errored", "AllFailed")
        }
        if text
        else set()
    )


def call_variables(kind: str, name: str, node: Node) -> dict[str, str]:
    values = {f"{kind}.{name}.outputs.parameters.{k}": v for k, v in node.outputs.items()}
    values[f"{kind}.{name}.status"] = node.phase
    return values


def composite_outputs(template: dict[str, Any], variables: dict[str, str]) -> dict[str, str]:
    outputs = {}
    for parameter in parameters(template.get("outputs")):
        source = (parameter.get("valueFrom") or {}).get("parameter")
        if source:
            outputs[parameter["name"]] = expressions.substitute(source, variables)
    return outputs


def retryable(retry: dict[str, Any], outcome: pods.Outcome) -> bool:
    policy = retry.get("retryPolicy", "OnFailure")
    if policy == "OnFailure" and outcome.phase != "Failed" or policy == "OnError" and outcome.phase != "Error":
        return False
    if "expression" in retry:
        return expressions.retry_allowed(retry["expression"], outcome.phase, outcome.exit_code)
    return True
