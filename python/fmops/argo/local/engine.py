"""Walk a workflow like Argo's controller does, on one machine.

- DAG tasks run as soon as their dependencies are done, and independent ones at once; the steps of one
  group run at once; loops (withItems, withParam, withSequence) fan out into one child per item. A
  template's `parallelism` bounds its running children, the workflow's `parallelism` (default: the CPUs)
  bounds the processes running at once, `synchronization` mutexes and semaphores are local locks.
- A DAG fails when a task failed and no other task's `depends` handles that failure (mentions its .Failed,
  .Errored or .AllFailed) and its `continueOn` does not allow it; with failFast (the default) no new task
  starts after such a failure. A task whose `depends` turns out false is Omitted, one whose `when` is false is
  Skipped. `dag.target` runs only the named tasks and what they depend on.
- A steps template runs its groups in order and stops after a group with a failed step (unless continueOn).
- Exit hooks of steps and tasks run after them; their failure fails the template, as in Argo.
- Timeouts: a template's `timeout` and `activeDeadlineSeconds` (and the workflow's) stop what runs under it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fmops.argo.documents import Library, Scope, called_template, parameters
from fmops.argo.local import expressions, pods
from fmops.argo.local.parameters import bind
from fmops.argo.local.support import deletes_a_pytorchjob, duration_seconds, resource_kind
from fmops.core.errors import InputError

DONE = ("Succeeded", "Failed", "Error", "Skipped", "Omitted")
BAD = ("Failed", "Error")


@dataclass
class Node:
    id: str
    template: str
    phase: str = "Pending"
    started: float | None = None
    finished: float | None = None
    outputs: dict[str, str] = field(default_factory=dict)  # output parameters
    message: str = ""
    attempts: int = 0
    log: str = ""
    leaf: bool = True
    result: str | None = None  # outputs.result: the main process's stdout
    exit_code: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)  # output artifact -> local path

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started


def timestamp(seconds: float | None) -> str:
    return "" if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`, recursively for mappings (how Argo applies templateDefaults)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class Limits:
    """Local stand-ins for what bounds concurrency on a cluster: the pod budget and named locks."""

    def __init__(self, pods_at_once: int, semaphore_size: Callable[[dict[str, Any]], int]):
        self.pods = threading.BoundedSemaphore(max(1, pods_at_once))
        self.size = semaphore_size
        self.locks: dict[str, threading.Semaphore] = {}
        self.guard = threading.Lock()

    def lock(self, kind: str, ref: dict[str, Any]) -> threading.Semaphore:
        key = f"{kind}:{json.dumps(ref, sort_keys=True)}"
        with self.guard:
            if key not in self.locks:
                self.locks[key] = threading.Semaphore(1 if kind == "mutex" else self.size(ref))
            return self.locks[key]

    @contextmanager
    def synchronized(self, synchronization: dict[str, Any] | None) -> Iterator[None]:
        sync = synchronization or {}
        mutexes = [sync["mutex"]] if "mutex" in sync else list(sync.get("mutexes") or [])
        semaphores = [sync["semaphore"]] if "semaphore" in sync else list(sync.get("semaphores") or [])
        with ExitStack() as stack:
            for kind, ref in [*(("mutex", m) for m in mutexes), *(("semaphore", s) for s in semaphores)]:
                lock = self.lock(kind, ref)
                lock.acquire()
                stack.callback(lock.release)
            yield


@dataclass
class Context:
    """What a template runs under: its variables, its deadline, and the bound on its running children."""

    variables: dict[str, Any]
    deadline: float | None = None
    children: threading.Semaphore | None = None


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
            state = {"workflow": {k: v for k, v in self.workflow.items() if isinstance(v, str)},
                     "nodes": {k: asdict(v) for k, v in self.nodes.items()}}  # fmt: skip
            text = json.dumps(state, indent=2) + "\n"
            temporary = self.run_dir / "run.json.tmp"
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(self.run_dir / "run.json")

    def set_global(self, key: str, value: str) -> None:
        with self.guard:
            self.workflow[key] = value

    def current(self, variables: dict[str, Any]) -> dict[str, Any]:
        """`variables` with the workflow's global outputs and duration as they are now."""
        with self.guard:
            started = self.workflow.get("workflow.started", time.time())
            return {**variables, **{k: v for k, v in self.workflow.items() if k.startswith("workflow.outputs.")},
                    "workflow.duration": f"{time.time() - started:.6f}"}  # fmt: skip

    # ---- templates ---------------------------------------------------------------------------------------

    def template_of(self, scope: Scope) -> dict[str, Any]:
        """A template with the workflow's templateDefaults under it."""
        return merge(self.defaults, scope.template) if self.defaults else scope.template

    def resolve_inputs(
        self, scope: Scope, passed: dict[str, str], variables: dict[str, Any] | None = None
    ) -> dict[str, str]:
        where = f"template '{scope.name}'"
        values = self.current(variables if variables is not None else self.workflow)
        return bind(parameters(self.template_of(scope).get("inputs")), passed,
                    expand=lambda text: expressions.substitute(text, values), config_map=self.config_map,
                    missing=where + ": required input '{name}' was not passed",
                    not_allowed=where + ": input '{name}'={value!r} is not one of {enum}")  # fmt: skip

    def run(self, scope: Scope, passed: dict[str, str], node_id: str, context: Context | None = None,
            artifacts: dict[str, Any] | None = None) -> Node:  # fmt: skip
        """Run a template as node `node_id`; returns the finished node."""
        context = context or Context(dict(self.workflow))
        template = self.template_of(scope)
        composite = "dag" in template or "steps" in template
        node = self.node(node_id, scope.name)
        node.leaf = not composite and "suspend" not in template
        earlier = self.previous.get(node_id)
        if not composite and earlier and earlier["phase"] == "Succeeded":
            for key in ("outputs", "attempts", "log", "started", "finished", "result", "exit_code", "artifacts"):
                if key in earlier:
                    setattr(node, key, earlier[key])
            self.publish_globals(template, node)
            return self.update(node, "Succeeded", "reused from the earlier run")
        try:
            inputs = self.resolve_inputs(scope, passed, context.variables)
        except InputError as error:
            return self.update(node, "Error", str(error))
        variables = {k: v for k, v in context.variables.items() if not k.startswith(("inputs.", "outputs."))}
        variables |= {f"inputs.parameters.{k}": v for k, v in inputs.items()}
        variables["inputs.parameters"] = json.dumps([{"name": k, "value": v} for k, v in inputs.items()])
        variables["node.name"] = variables["pod.name"] = node_id
        for artifact in (template.get("inputs") or {}).get("artifacts") or []:
            variables[f"inputs.artifacts.{artifact['name']}.path"] = artifact.get("path", "")
            if artifacts and artifact["name"] in (artifacts or {}):
                variables[f"inputs.artifacts.{artifact['name']}"] = artifacts[artifact["name"]]
        deadline = context.deadline
        for key in ("timeout", "activeDeadlineSeconds"):
            if template.get(key):
                seconds = duration_seconds(expressions.substitute(str(template[key]), variables))
                deadline = min(d for d in (deadline, time.time() + seconds) if d is not None)
        inner = Context(variables, deadline, threading.Semaphore(int(template["parallelism"]))
                        if template.get("parallelism") else None)  # fmt: skip
        self.update(node, "Running")
        with self.limits.synchronized(template.get("synchronization")):
            if "dag" in template:
                return self.finish_composite(node, template, self.run_dag(scope, template, inner, node_id))
            if "steps" in template:
                return self.finish_composite(node, template, self.run_steps(scope, template, inner, node_id))
            if "suspend" in template:
                return self.suspend(node, template, inner)
            return self.run_leaf(node, scope, template, inner, artifacts or {})

    def suspend(self, node: Node, template: dict[str, Any], context: Context) -> Node:
        seconds = duration_seconds(expressions.substitute(str((template["suspend"] or {}).get("duration", "0")),
                                                          context.variables))  # fmt: skip
        end = time.time() + seconds
        if context.deadline is not None and context.deadline < end:
            time.sleep(max(0.0, context.deadline - time.time()))
            return self.update(node, "Failed", "Step exceeded its deadline")
        while time.time() < end and not self.stopping.is_set():
            time.sleep(min(0.2, max(0.0, end - time.time())))
        return self.update(node, "Succeeded", f"suspended for {seconds:g}s")

    def finish_composite(self, node: Node, template: dict[str, Any], result: tuple[str, dict[str, Any]]) -> Node:
        phase, scope_variables = result
        if phase == "Succeeded":
            try:
                outputs = composite_outputs(template, self.current(scope_variables))
                node.outputs, node.artifacts = outputs["parameters"], outputs["artifacts"]
                node.result = outputs["result"]
                self.publish_globals(template, node)
            except InputError as error:
                return self.update(node, "Failed", str(error))
        with self.guard:
            failed = [n.id for n in self.nodes.values() if n.id.startswith(node.id + "/") and n.leaf and n.phase in BAD]
        message = scope_variables.get("__message__", "")
        return self.update(node, phase, "" if phase == "Succeeded" else message or f"failed: {', '.join(failed)}")

    def publish_globals(self, template: dict[str, Any], node: Node) -> None:
        outputs = template.get("outputs") or {}
        for parameter in parameters(outputs):
            if parameter.get("globalName") and parameter["name"] in node.outputs:
                self.set_global(
                    f"workflow.outputs.parameters.{parameter['globalName']}", node.outputs[parameter["name"]]
                )
        for artifact in outputs.get("artifacts") or []:
            if artifact.get("globalName") and artifact["name"] in node.artifacts:
                self.set_global(
                    f"workflow.outputs.artifacts.{artifact['globalName']}", node.artifacts[artifact["name"]]
                )

    def run_leaf(self, node: Node, scope: Scope, template: dict[str, Any], context: Context,
                 artifacts: dict[str, Any]) -> Node:  # fmt: skip
        directory = self.run_dir / "steps" / re.sub(r"[^\w.-]", "_", node.id.replace("/", "."))
        directory.mkdir(parents=True, exist_ok=True)
        node.log = str(directory / "log.txt")
        retry = template.get("retryStrategy") or {}
        limit = retry_limit(retry, context.variables)
        backoff = retry.get("backoff") or {}
        last: dict[str, str] = {}
        while True:
            attempt_vars = {**self.current(context.variables), "retries": str(node.attempts), **last}
            node.attempts += 1
            remaining = None if context.deadline is None else context.deadline - time.time()
            if remaining is not None and remaining <= 0:
                return self.update(node, "Failed", "Step exceeded its deadline")
            try:
                if deletes_a_pytorchjob(template):
                    return self.update(node, "Succeeded", "deletes the PyTorchJob on a cluster; locally it has ended")
                if "resource" in template:
                    if resource_kind(template) != "PyTorchJob":
                        return self.update(node, "Error", "resource templates other than PyTorchJob cannot run locally")
                    process = pods.pytorchjob_process(template, attempt_vars, directory)
                    processes = [("main", process)]
                else:
                    bodies = pods.container_set(template) if "containerSet" in template else [None]
                    processes = [((body or {}).get("name", "main"), pods.container_process(
                        template, attempt_vars, directory, self.staging(artifacts) if index == 0 else None,
                        volumes=self.run_dir / "volumes", config_map=self.config_map, body=body))
                        for index, body in enumerate(bodies)]  # fmt: skip
                    process = processes[-1][1]
            except InputError as error:
                return self.update(node, "Error", str(error))
            for _, each in processes:
                if remaining is not None:
                    each.timeout = min(each.timeout or remaining, remaining)
                for note in each.notes:
                    node.message = note
            started = time.time()
            with self.limits.pods:
                self.update(node, "Running")
                outcome = self.execute(processes, Path(node.log))
            node.exit_code = None if outcome.exit_code is None else str(outcome.exit_code)
            node.result = outcome.stdout
            if outcome.phase == "Succeeded":
                try:
                    values, files = pods.read_outputs(template, process, self.run_dir / "artifacts" / node.id,
                                                      self.repository, attempt_vars)  # fmt: skip
                    node.outputs, node.artifacts = values, files
                    self.publish_globals(template, node)
                    retried = f"succeeded on attempt {node.attempts}" if node.attempts > 1 else ""
                    return self.update(node, "Succeeded", "; ".join([*process.notes, retried]).strip("; "))
                except InputError as error:
                    outcome = pods.Outcome("Error", 0, str(error))
            if node.attempts > limit or not retryable(retry, outcome, time.time() - started):
                self.default_outputs(template, node)
                return self.update(node, outcome.phase, outcome.message)
            last = {"lastRetry.status": outcome.phase, "lastRetry.exitCode": node.exit_code or "-1",
                    "lastRetry.duration": str(int(time.time() - started)),
                    "lastRetry.message": outcome.message}  # fmt: skip
            self.update(
                node, "Running", f"attempt {node.attempts} {outcome.phase.lower()} ({outcome.message}); retrying"
            )
            pause = backoff_seconds(backoff, node.attempts, context.variables)
            if pause:
                time.sleep(pause)

    def execute(self, processes: list[tuple[str, pods.Process]], log: Path) -> pods.Outcome:
        """Run a pod's containers in order; the first failure ends it; the result is the `main` one's stdout."""
        result = None
        for name, process in processes:
            outcome = pods.execute(process, log, self.stopping)
            if name == "main" or len(processes) == 1:
                result = outcome.stdout
            if outcome.phase != "Succeeded":
                return outcome
        return pods.Outcome("Succeeded", 0, "", result)

    def default_outputs(self, template: dict[str, Any], node: Node) -> None:
        """A failed step's output parameters that declare a default still have it (as Argo reports them)."""
        for parameter in parameters(template.get("outputs")):
            source = parameter.get("valueFrom") or {}
            if "default" in source and parameter["name"] not in node.outputs:
                node.outputs[parameter["name"]] = str(source["default"])

    @property
    def repository(self) -> Path:
        """Where artifacts with a repository key (s3.key, ...) live on this machine."""
        return self.run_dir / "artifact-repository"

    def staging(self, artifacts: dict[str, Any]) -> dict[str, Any]:
        return {"passed": artifacts, "repository": self.repository}

    # ---- DAG and steps -----------------------------------------------------------------------------------

    @contextmanager
    def pool(self, workers: int) -> Iterator[ThreadPoolExecutor]:
        """Threads for children that run at once. An interrupt (Ctrl-C, SIGTERM) stops their processes too:
        the pool's exit waits for its threads, so they are told first."""
        with ThreadPoolExecutor(max_workers=max(1, workers)) as executor:
            try:
                yield executor
            except BaseException:
                self.stopping.set()
                raise

    def run_dag(self, scope: Scope, template: dict[str, Any], context: Context, parent: str) -> tuple[str, dict]:
        dag = template["dag"]
        tasks = {task["name"]: task for task in dag.get("tasks") or []}
        target = expressions.substitute(str(dag.get("target") or ""), context.variables)
        if target:
            wanted, queue = set(), [t for t in target.replace(",", " ").split()]
            while queue:
                name = queue.pop()
                if name not in tasks:
                    return "Error", {"__message__": f"dag.target: no task named '{name}'"}
                if name not in wanted:
                    wanted.add(name)
                    queue += dependencies(tasks[name])
            tasks = {name: task for name, task in tasks.items() if name in wanted}
        fail_fast = dag.get("failFast", True) is not False
        for name, task in tasks.items():
            self.node(f"{parent}/{name}", called_template(task))
        results: dict[str, str] = {}
        groups: dict[str, list[str]] = {}
        continued: set[str] = set()
        scope_variables: dict[str, Any] = {}
        handled = set().union(*(handled_failures(t) for t in tasks.values())) if tasks else set()
        running: dict[Future, str] = {}
        stopped = False
        with self.pool(len(tasks)) as pool:
            while len(results) < len(tasks):
                ready = [name for name, task in tasks.items() if name not in results and name not in running.values()
                         and all(d in results for d in dependencies(task))]  # fmt: skip
                for name in [] if stopped else ready:
                    for dependency in dependencies(tasks[name]):
                        if dependency not in tasks:
                            return "Error", {"__message__": f"task '{name}' depends on unknown task '{dependency}'"}
                    variables = {**context.variables, **scope_variables, "tasks.name": name}
                    running[pool.submit(self.run_call, scope, tasks[name], variables, results, f"{parent}/{name}",
                                        context, groups, continued)] = name  # fmt: skip
                if not running:
                    if stopped:
                        for name in tasks:
                            if name not in results:
                                late = self.node(f"{parent}/{name}", called_template(tasks[name]))
                                message = "not started: a task failed (failFast)"
                                results[name] = self.update(late, "Omitted", message).phase
                        break
                    waiting = sorted(set(tasks) - set(results))
                    return "Error", {"__message__": f"template '{scope.name}': dependency cycle among {waiting}"}
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    results[name] = future.result()
                    node = self.nodes[f"{parent}/{name}"]
                    scope_variables.update(call_variables("tasks", name, node, self.children(node)))
                    if results[name] in BAD and name not in continued and name not in handled and fail_fast:
                        stopped = True
        unhandled = [name for name, phase in results.items() if phase in BAD and name not in handled
                     and name not in continued]  # fmt: skip
        return ("Failed" if unhandled else "Succeeded"), scope_variables

    def children(self, node: Node) -> list[Node]:
        with self.guard:
            return [
                n for n in self.nodes.values() if n.id.startswith(node.id + "(") and "/" not in n.id[len(node.id) :]
            ]

    def run_steps(self, scope: Scope, template: dict[str, Any], context: Context, parent: str) -> tuple[str, dict]:
        scope_variables: dict[str, Any] = {}
        results: dict[str, str] = {}
        continued: set[str] = set()
        for group in template["steps"]:
            group = group or []
            with self.pool(len(group)) as pool:
                futures = {step["name"]: pool.submit(
                    self.run_call, scope, step, {**context.variables, **scope_variables, "steps.name": step["name"]},
                    results, f"{parent}/{step['name']}", context, {}, continued) for step in group}  # fmt: skip
                for name, future in futures.items():
                    results[name] = future.result()
            for step in group:
                node = self.nodes[f"{parent}/{step['name']}"]
                scope_variables.update(call_variables("steps", step["name"], node, self.children(node)))
            if any(results[s["name"]] in BAD and s["name"] not in continued for s in group):
                return "Failed", scope_variables
        return "Succeeded", scope_variables

    def run_call(self, scope: Scope, call: dict[str, Any], variables: dict[str, Any], results: dict[str, str],
                 node_id: str, context: Context, groups: dict[str, list[str]], continued: set[str]) -> str:  # fmt: skip
        """Run one task or step: depends, loops, when, arguments, then the target template and its exit hook."""
        node = self.node(node_id, called_template(call))
        name = call["name"]
        try:
            if "depends" in call and not expressions.depends(call["depends"], results, groups, continued):
                self.skipped_outputs(scope, call, node)
                return self.update(node, "Omitted", f"depends: {call['depends']}").phase
            if "dependencies" in call and any(results[d] not in ("Succeeded", "Skipped") and d not in continued
                                              for d in call["dependencies"]):  # fmt: skip
                self.skipped_outputs(scope, call, node)
                return self.update(node, "Omitted", "a dependency did not succeed").phase
            items = loop_items(call, self.current(variables))
        except InputError as error:
            return self.update(node, "Error", str(error)).phase
        if items is None:
            phase = self.run_one(scope, call, self.current(variables), node_id, context)
        else:
            node.leaf = False
            self.update(node, "Running")
            with self.pool(min(len(items), 64)) as pool:
                futures = [pool.submit(self.run_one, scope, call, {**self.current(variables), **item_variables(item)},
                                       f"{node_id}({index}:{label(item)})", context)
                           for index, item in enumerate(items)]  # fmt: skip
                phases = [future.result() for future in futures]
            groups[name] = phases
            bad = [p for p in phases if p in BAD]
            phase = "Failed" if bad else "Succeeded"
            if not items:
                phase = "Skipped"
            self.update(node, phase, f"{len(bad)} of {len(items)} failed" if bad else "")
        phase = self.exit_hook(scope, call, node, variables, context, phase)
        allowed = call.get("continueOn") or {}
        if phase == "Failed" and allowed.get("failed") or phase == "Error" and allowed.get("error"):
            continued.add(name)
        return phase

    def run_one(self, scope: Scope, call: dict[str, Any], variables: dict[str, Any], node_id: str,
                context: Context) -> str:  # fmt: skip
        node = self.node(node_id, called_template(call))
        with context.children if context.children is not None else ExitStack():
            try:
                if "when" in call and not expressions.condition(expressions.substitute(str(call["when"]), variables)):
                    self.skipped_outputs(scope, call, node)
                    when = expressions.substitute(str(call["when"]), variables)
                    return self.update(node, "Skipped", f"when '{when}' evaluated false").phase
                arguments = call_arguments(call, variables)
                artifacts = artifact_arguments(call, variables)
                target = Scope(scope.document, {"name": call["name"], **call["inline"]}) if call.get(
                    "inline") else self.library.target(scope, call)  # fmt: skip
            except InputError as error:
                return self.update(node, "Error", str(error)).phase
            if context.deadline is not None and time.time() >= context.deadline:
                return self.update(node, "Failed", "Step exceeded its deadline").phase
            if self.stopping.is_set():
                return self.update(node, "Failed", "stopped").phase
            return self.run(target, arguments, node_id, Context(variables, context.deadline), artifacts).phase

    def skipped_outputs(self, scope: Scope, call: dict[str, Any], node: Node) -> None:
        """A skipped or omitted node still has the output parameters whose valueFrom declares a default."""
        try:
            target = (
                self.library.target(scope, call) if not call.get("inline") else Scope(scope.document, call["inline"])
            )
        except InputError:
            return
        self.default_outputs(self.template_of(target), node)

    def exit_hook(self, scope: Scope, call: dict[str, Any], node: Node, variables: dict[str, Any], context: Context,
                  phase: str) -> str:  # fmt: skip
        """A step's or task's exit hook (`hooks.exit` or the older `onExit`), run after it: its failure fails it."""
        hook = (call.get("hooks") or {}).get("exit") or ({"template": call["onExit"]} if call.get("onExit") else None)
        if not hook or phase in ("Skipped", "Omitted"):
            return phase
        kind = "tasks" if "tasks.name" in variables else "steps"
        hook_variables = {**variables, **call_variables(kind, call["name"], node, self.children(node))}
        hook_id = f"{node.id}.onExit"
        self.node(hook_id, called_template(hook))
        result = self.run_one(scope, {"name": f"{call['name']}.onExit", **hook}, hook_variables, hook_id, context)
        return "Failed" if result in BAD and phase == "Succeeded" else phase


# ---- calls -----------------------------------------------------------------------------------------------


def dependencies(call: dict[str, Any]) -> list[str]:
    if "depends" in call:
        return expressions.depends_on(str(call["depends"]))
    return list(call.get("dependencies") or [])


def handled_failures(call: dict[str, Any]) -> set[str]:
    """Tasks whose failure this task's `depends` explicitly reacts to."""
    return expressions.handled_results(str(call.get("depends", "")))


def loop_items(call: dict[str, Any], variables: dict[str, Any]) -> list[Any] | None:
    """The items of withItems, withParam or withSequence (their tags substituted), or None for no loop."""
    if "withItems" in call:
        return [substitute_item(item, variables) for item in call["withItems"] or []]
    if "withParam" in call:
        text = expressions.substitute(str(call["withParam"]), variables)
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise InputError(f"withParam: {text[:80]!r} is not a JSON list") from None
        if not isinstance(items, list):
            raise InputError(f"withParam: {text[:80]!r} is not a JSON list")
        return items
    if "withSequence" in call:
        sequence = {k: expressions.substitute(str(v), variables) for k, v in (call["withSequence"] or {}).items()}
        start = int(sequence.get("start", 0))
        if "count" in sequence:
            end = start + int(sequence["count"]) - 1
        else:
            end = int(sequence.get("end", 0))
        step = 1 if end >= start else -1
        form = sequence.get("format")
        return [form.replace("%02d", f"{i:02d}").replace("%d", str(i)) if form else str(i)
                for i in range(start, end + step, step)]  # fmt: skip
    return None


def substitute_item(item: Any, variables: dict[str, Any]) -> Any:
    if isinstance(item, str):
        return expressions.substitute(item, variables)
    if isinstance(item, dict):
        return {k: substitute_item(v, variables) for k, v in item.items()}
    if isinstance(item, list):
        return [substitute_item(v, variables) for v in item]
    return item


def item_variables(item: Any) -> dict[str, Any]:
    """`{{item}}` (a JSON text for objects and lists, as Argo writes it) and `{{item.key}}`."""
    values: dict[str, Any] = {"item": item}
    if isinstance(item, dict):
        values |= {f"item.{k}": v for k, v in item.items()}
    return values


def label(item: Any) -> str:
    text = expressions.render(item)
    return text if len(text) <= 40 else text[:37] + "..."


def call_arguments(call: dict[str, Any], variables: dict[str, Any]) -> dict[str, str]:
    """The parameters a call passes. One that names an output a skipped or omitted node never made is not
    passed, so the input's own default applies (as in Argo)."""
    passed = {}
    for parameter in parameters(call.get("arguments")):
        if "value" not in parameter:
            continue
        try:
            passed[parameter["name"]] = expressions.substitute(str(parameter["value"]), variables)
        except InputError:
            mentioned = re.findall(r"\{\{\s*(tasks|steps)\.([^.}]+)\.", str(parameter["value"]))
            if not any(variables.get(f"{kind}.{name}.status") in ("Skipped", "Omitted") for kind, name in mentioned):
                raise
    return passed


def artifact_arguments(call: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """name -> what a call passes as an artifact: {"from": local path} | {"raw": text} | {"key": repository key}."""
    passed = {}
    for artifact in (call.get("arguments") or {}).get("artifacts") or []:
        name = artifact["name"]
        if "from" in artifact or "fromExpression" in artifact:
            source = artifact.get("from") or "{{=" + str(artifact["fromExpression"]) + "}}"
            passed[name] = {"from": expressions.substitute(str(source), variables), "subPath": artifact.get("subPath")}
        elif "raw" in artifact:
            passed[name] = {"raw": expressions.substitute(str((artifact["raw"] or {}).get("data", "")), variables)}
        elif pods.repository_key(artifact) is not None:
            passed[name] = {"key": expressions.substitute(pods.repository_key(artifact) or "", variables)}
    return passed


def aggregate(values: list[str | None]) -> str:
    """A loop's outputs as Argo aggregates them: a JSON list, each value parsed where it is JSON."""
    items = []
    for value in values:
        try:
            items.append(json.loads(value) if value is not None else None)
        except json.JSONDecodeError:
            items.append(value)
    return json.dumps(items, separators=(",", ":"))


def call_variables(kind: str, name: str, node: Node, children: list[Node] | None = None) -> dict[str, Any]:
    """The variables a finished step or task gives the ones after it (`steps.X.outputs.result`, ...)."""
    prefix = f"{kind}.{name}"
    values: dict[str, Any] = {f"{prefix}.status": node.phase, f"{prefix}.id": node.id,
                              f"{prefix}.startedAt": timestamp(node.started),
                              f"{prefix}.finishedAt": timestamp(node.finished)}  # fmt: skip
    if children and not node.leaf and not node.outputs:
        done = [c for c in children if c.phase not in ("Skipped", "Omitted")]
        names = list(dict.fromkeys(k for c in done for k in c.outputs))
        values |= {f"{prefix}.outputs.parameters.{k}": aggregate([c.outputs.get(k) for c in done]) for k in names}
        values[f"{prefix}.outputs.parameters"] = json.dumps([c.outputs for c in done], separators=(",", ":"))
        values[f"{prefix}.outputs.result"] = aggregate([c.result for c in done if c.result is not None])
        return values
    values |= {f"{prefix}.outputs.parameters.{k}": v for k, v in node.outputs.items()}
    values |= {f"{prefix}.outputs.artifacts.{k}": v for k, v in node.artifacts.items()}
    if node.outputs:
        values[f"{prefix}.outputs.parameters"] = json.dumps(node.outputs, separators=(",", ":"))
    if node.result is not None:
        values[f"{prefix}.outputs.result"] = node.result
    if node.exit_code is not None:
        values[f"{prefix}.exitCode"] = node.exit_code
    return values


def composite_outputs(template: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """A DAG's or steps template's outputs: parameters from valueFrom.parameter/expression, artifacts from
    valueFrom.parameter... `from`, and no result of its own."""
    outputs: dict[str, Any] = {"parameters": {}, "artifacts": {}, "result": None}
    declared = template.get("outputs") or {}
    for parameter in parameters(declared):
        source = parameter.get("valueFrom") or {}
        text = source.get("parameter") or ("{{=" + source["expression"] + "}}" if "expression" in source else None)
        if text is not None:
            try:
                outputs["parameters"][parameter["name"]] = expressions.substitute(text, variables)
            except InputError:
                if "default" not in source:
                    raise
                outputs["parameters"][parameter["name"]] = str(source["default"])
    for artifact in declared.get("artifacts") or []:
        source = artifact.get("from") or ("{{=" + artifact["fromExpression"] + "}}" if "fromExpression" in artifact
                                          else None)  # fmt: skip
        if source:
            outputs["artifacts"][artifact["name"]] = expressions.substitute(source, variables)
    return outputs


def retry_limit(retry: dict[str, Any], variables: dict[str, Any]) -> int:
    if not retry:
        return 0
    if "limit" not in retry:
        return 1 << 30  # Argo retries without bound when no limit is set
    return int(expressions.substitute(str(retry["limit"]), variables))


def backoff_seconds(backoff: dict[str, Any], attempt: int, variables: dict[str, Any]) -> float:
    if not backoff.get("duration"):
        return 0.0
    seconds = duration_seconds(expressions.substitute(str(backoff["duration"]), variables))
    factor = float(expressions.substitute(str(backoff.get("factor", 1)), variables))
    pause = seconds * factor ** (attempt - 1)
    if backoff.get("cap"):
        pause = min(pause, duration_seconds(str(backoff["cap"])))
    return pause


def retryable(retry: dict[str, Any], outcome: pods.Outcome, seconds: float = 0.0) -> bool:
    policy = retry.get("retryPolicy", "OnFailure")
    if policy == "OnFailure" and outcome.phase != "Failed" or policy == "OnError" and outcome.phase != "Error":
        return False
    if policy == "OnTransientError" and outcome.phase != "Error":
        return False
    if "expression" in retry:
        code = None if outcome.exit_code is None else outcome.exit_code
        return expressions.retry_allowed(retry["expression"], outcome.phase, code, seconds)
    return True


def new_uid() -> str:
    return str(uuid.uuid4())
