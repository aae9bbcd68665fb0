"""Walk a workflow like Argo's controller does, on one machine: the state of a run and how one template runs.

- A template runs as a node: its inputs are bound, its deadline (`timeout`, `activeDeadlineSeconds`) set,
  and then a DAG or steps template walks its calls (fmops.argo.local.walk, .calls), a suspend waits and a
  leaf runs its pod's processes with retries (fmops.argo.local.leaf).
- Every change of a node goes to the observer and to run.json in the run directory, so a run can be watched
  and resumed: a leaf that succeeded in the earlier run is reused as it was.
- A template's `parallelism` bounds its running children, the workflow's `parallelism` (default: the CPUs)
  bounds the processes running at once, `synchronization` mutexes and semaphores are local locks (.limits).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fmops.argo.documents import Library, Scope, parameters
from fmops.argo.local import expressions, leaf, walk
from fmops.argo.local.limits import MAX_CALL_DEPTH, MAX_NODES, Limits
from fmops.argo.local.nodes import BAD, DONE, Context, Node, TemplateError
from fmops.argo.local.outputs import composite_outputs, default_outputs
from fmops.argo.local.parameters import bind
from fmops.argo.local.support import duration_seconds
from fmops.core.errors import InputError

REUSED = ("outputs", "attempts", "log", "started", "finished", "result", "exit_code", "artifacts")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`, recursively for mappings (how Argo applies templateDefaults)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def new_uid() -> str:
    return str(uuid.uuid4())


class Engine:
    def __init__(
        self,
        library: Library,
        run_dir: Path,
        workflow: dict[str, Any],
        previous: dict[str, dict[str, Any]] | None = None,
        observer: Callable[[Node], None] | None = None,
        *,
        defaults: dict[str, Any] | None = None,
        limits: Limits | None = None,
        config_map: Callable[[str, str], str] | None = None,
    ):
        self.library = library
        self.run_dir = run_dir
        self.workflow = workflow  # workflow.name, workflow.parameters.x, ... and the global outputs
        self.previous = previous or {}
        self.observer = observer or (lambda node: None)
        self.defaults = defaults or {}
        self.limits = limits or Limits(1, lambda ref: 1)
        self.config_map = config_map
        self.nodes: dict[str, Node] = {}
        self.guard = threading.RLock()
        self.stopping = threading.Event()

    # ---- bookkeeping -------------------------------------------------------------------------------------

    def node(self, node_id: str, template: str, leaf: bool = True) -> Node:
        with self.guard:
            if node_id not in self.nodes:
                if len(self.nodes) >= MAX_NODES:
                    raise TemplateError(f"the workflow has more than {MAX_NODES} nodes")
                self.nodes[node_id] = Node(node_id, template, leaf=leaf)
            return self.nodes[node_id]

    def update(self, node: Node, phase: str, message: str = "") -> Node:
        with self.guard:
            node.phase = phase
            if phase == "Running" and node.started is None:
                node.started = time.time()
            if phase in DONE:
                node.started = node.started or time.time()
                node.finished = time.time()
            node.message = message or node.message
            self.observer(node)
            self.save()
        return node

    def save(self) -> None:
        with self.guard:
            state = {
                "workflow": {k: v for k, v in self.workflow.items() if isinstance(v, str)},
                "nodes": {k: asdict(v) for k, v in self.nodes.items()},
            }
            temporary = self.run_dir / "run.json.tmp"
            temporary.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
            temporary.replace(self.run_dir / "run.json")

    def set_global(self, key: str, value: str) -> None:
        with self.guard:
            self.workflow[key] = value

    def current(self, variables: dict[str, Any]) -> dict[str, Any]:
        """`variables` with the workflow's global outputs and duration as they are now."""
        with self.guard:
            started = self.workflow.get("workflow.started", time.time())
            globals_now = {k: v for k, v in self.workflow.items() if k.startswith("workflow.outputs.")}
            return {**variables, **globals_now, "workflow.duration": f"{time.time() - started:.6f}"}

    def children(self, node: Node) -> list[Node]:
        """A looped node's children: `node(0:item)`, ..."""
        with self.guard:
            return [
                n for n in self.nodes.values() if n.id.startswith(node.id + "(") and "/" not in n.id[len(node.id) :]
            ]

    @contextmanager
    def pool(self, workers: int) -> Iterator[ThreadPoolExecutor]:
        """Threads for children that run at once. An interrupt (Ctrl-C, SIGTERM) stops their processes too:
        the pool's exit waits for its threads, so they are told first. A TemplateError ends only its template."""
        with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
            try:
                yield executor
            except TemplateError:
                raise
            except BaseException:
                self.stopping.set()
                raise

    @property
    def repository(self) -> Path:
        """Where artifacts with a repository key (s3.key, ...) live on this machine."""
        return self.run_dir / "artifact-repository"

    # ---- templates ---------------------------------------------------------------------------------------

    def template_of(self, scope: Scope) -> dict[str, Any]:
        """A template with the workflow's templateDefaults under it."""
        return merge(self.defaults, scope.template) if self.defaults else scope.template

    def target(self, scope: Scope, call: dict[str, Any]) -> Scope:
        """The template a task or step calls: its inline template, or the one it names."""
        if call.get("inline"):
            return Scope(scope.document, {"name": call["name"], **call["inline"]})
        return self.library.target(scope, call)

    def resolve_inputs(
        self, scope: Scope, passed: dict[str, str], variables: dict[str, Any] | None = None
    ) -> dict[str, str]:
        where = f"template '{scope.name}'"
        values = self.current(variables if variables is not None else self.workflow)
        return bind(
            parameters(self.template_of(scope).get("inputs")),
            passed,
            expand=lambda text: expressions.substitute(text, values),
            config_map=self.config_map,
            missing=where + ": required input '{name}' was not passed",
            not_allowed=where + ": input '{name}'={value!r} is not one of {enum}",
        )

    def run(
        self,
        scope: Scope,
        passed: dict[str, str],
        node_id: str,
        context: Context | None = None,
        artifacts: dict[str, Any] | None = None,
    ) -> Node:
        """Run a template as node `node_id`; returns the finished node."""
        context = context or Context(dict(self.workflow))
        if context.depth >= MAX_CALL_DEPTH:
            node = self.node(node_id, scope.name)
            message = f"template '{scope.name}': calls nest deeper than {MAX_CALL_DEPTH} (a template calling itself?)"
            return self.update(node, "Error", message)
        template = self.template_of(scope)
        composite = "dag" in template or "steps" in template
        node = self.node(node_id, scope.name)
        node.leaf = not composite and "suspend" not in template
        earlier = self.previous.get(node_id)
        if not composite and earlier and earlier["phase"] == "Succeeded":
            return self.reuse(node, template, earlier)
        try:
            inputs = self.resolve_inputs(scope, passed, context.variables)
        except InputError as error:
            return self.update(node, "Error", str(error))
        variables = template_variables(template, context.variables, inputs, node_id, artifacts or {})
        try:
            inner = inner_context(template, variables, context)
        except InputError as error:
            return self.update(node, "Error", str(error))
        self.update(node, "Running")
        with self.limits.synchronized(template.get("synchronization")):
            try:
                if "dag" in template:
                    return self.finish_composite(node, template, walk.run_dag(self, scope, template, inner, node_id))
                if "steps" in template:
                    return self.finish_composite(node, template, walk.run_steps(self, scope, template, inner, node_id))
                if "suspend" in template:
                    return self.suspend(node, template, inner)
            except (TemplateError, InputError) as error:
                return self.update(node, "Error", str(error))
            return leaf.run_leaf(self, node, template, inner, artifacts or {})

    def reuse(self, node: Node, template: dict[str, Any], earlier: dict[str, Any]) -> Node:
        """A leaf that succeeded in the run being resumed: its record as it was."""
        for key in REUSED:
            if key in earlier:
                setattr(node, key, earlier[key])
        self.publish_globals(template, node)
        return self.update(node, "Succeeded", "reused from the earlier run")

    def suspend(self, node: Node, template: dict[str, Any], context: Context) -> Node:
        duration = str((template["suspend"] or {}).get("duration", "0"))
        seconds = duration_seconds(expressions.substitute(duration, context.variables))
        end = time.time() + seconds
        if context.deadline is not None and context.deadline < end:
            time.sleep(max(0.0, context.deadline - time.time()))
            return self.update(node, "Failed", "Step exceeded its deadline")
        while time.time() < end and not self.stopping.is_set():
            time.sleep(min(0.2, max(0.0, end - time.time())))
        return self.update(node, "Succeeded", f"suspended for {seconds:g}s")

    def finish_composite(self, node: Node, template: dict[str, Any], walked: walk.Walked) -> Node:
        if walked.phase == "Succeeded":
            try:
                outputs = composite_outputs(template, self.current(walked.variables))
            except InputError as error:
                return self.update(node, "Failed", str(error))
            node.outputs, node.artifacts, node.result = outputs["parameters"], outputs["artifacts"], outputs["result"]
            self.publish_globals(template, node)
            return self.update(node, "Succeeded", "")
        with self.guard:
            failed = [n.id for n in self.nodes.values() if n.id.startswith(node.id + "/") and n.leaf and n.phase in BAD]
        return self.update(node, walked.phase, f"failed: {', '.join(failed)}")

    def publish_globals(self, template: dict[str, Any], node: Node) -> None:
        outputs = template.get("outputs") or {}
        for parameter in parameters(outputs):
            if parameter.get("globalName") and parameter["name"] in node.outputs:
                key = f"workflow.outputs.parameters.{parameter['globalName']}"
                self.set_global(key, node.outputs[parameter["name"]])
        for artifact in outputs.get("artifacts") or []:
            if artifact.get("globalName") and artifact["name"] in node.artifacts:
                key = f"workflow.outputs.artifacts.{artifact['globalName']}"
                self.set_global(key, node.artifacts[artifact["name"]])

    def skipped_outputs(self, scope: Scope, call: dict[str, Any], node: Node) -> None:
        """A skipped or omitted node still has the output parameters whose valueFrom declares a default."""
        try:
            target = self.target(scope, call)
        except InputError:
            return
        default_outputs(self.template_of(target), node)


def inner_context(template: dict[str, Any], variables: dict[str, Any], context: Context) -> Context:
    """What a template's children run under: its deadline (`timeout`, `activeDeadlineSeconds`, and its
    caller's), the bound on its running children (`parallelism`), one level deeper."""
    deadline = context.deadline
    for key in ("timeout", "activeDeadlineSeconds"):
        if template.get(key):
            seconds = duration_seconds(expressions.substitute(str(template[key]), variables))
            deadline = min(d for d in (deadline, time.time() + seconds) if d is not None)
    bound = None
    if template.get("parallelism"):
        text = expressions.substitute(str(template["parallelism"]), variables)
        if not text.strip().isdigit():
            raise InputError(f"parallelism: {text[:40]!r} is not a whole number")
        bound = threading.Semaphore(max(1, int(text)))
    return Context(variables, deadline, bound, context.depth + 1)


def template_variables(
    template: dict[str, Any], outer: dict[str, Any], inputs: dict[str, str], node_id: str, artifacts: dict[str, Any]
) -> dict[str, Any]:
    """What a template's text sees: the caller's variables less its inputs and outputs, this template's
    inputs, its node's name and its input artifacts."""
    variables = {k: v for k, v in outer.items() if not k.startswith(("inputs.", "outputs."))}
    variables |= {f"inputs.parameters.{k}": v for k, v in inputs.items()}
    variables["inputs.parameters"] = json.dumps([{"name": k, "value": v} for k, v in inputs.items()])
    variables["node.name"] = variables["pod.name"] = node_id
    for artifact in (template.get("inputs") or {}).get("artifacts") or []:
        variables[f"inputs.artifacts.{artifact['name']}.path"] = artifact.get("path", "")
        if artifact["name"] in artifacts:
            variables[f"inputs.artifacts.{artifact['name']}"] = artifacts[artifact["name"]]
    return variables
