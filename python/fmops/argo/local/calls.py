"""One task or step: whether it runs (depends, when), its loop, the arguments it passes, the template it
calls, and its exit hook. A call runs in its own thread; what it needs comes in one `Call`, what it ended as
goes back in one `CallResult`, and nothing it shares with its siblings is written from here."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any

from fmops.argo.documents import Scope, called_template, parameters
from fmops.argo.local import expressions
from fmops.argo.local.artifacts import repository_key
from fmops.argo.local.loops import item_variables, label, loop_items
from fmops.argo.local.nodes import BAD, Context, Node
from fmops.argo.local.outputs import call_variables
from fmops.argo.local.runtime import Runtime
from fmops.core.errors import InputError


@dataclass(frozen=True)
class Siblings:
    """What the calls before this one in the same DAG or steps template ended as, when it was started."""

    phases: Mapping[str, str] = field(default_factory=dict)  # name -> final phase
    loops: Mapping[str, list[str]] = field(default_factory=dict)  # a looped call's children's phases
    continued: frozenset[str] = frozenset()  # failed, but continueOn lets their dependants go on


@dataclass(frozen=True)
class Call:
    """A task or step about to run."""

    scope: Scope  # the DAG or steps template that holds it
    spec: dict[str, Any]  # the task or step as written
    node_id: str
    variables: dict[str, Any]  # what its text sees
    context: Context  # its parent's deadline and bound on running children
    siblings: Siblings = Siblings()


@dataclass(frozen=True)
class CallResult:
    phase: str
    loop_phases: list[str] | None = None  # a looped call's children's phases, for AnySucceeded/AllFailed
    continued: bool = False  # it failed, and its continueOn lets its dependants go on


def exit_hook_of(call: dict[str, Any]) -> dict[str, Any] | None:
    """A call's exit hook: `hooks.exit`, or the older `onExit`."""
    hook = (call.get("hooks") or {}).get("exit")
    return hook or ({"template": call["onExit"]} if call.get("onExit") else None)


def run_call(engine: Runtime, call: Call) -> CallResult:
    """Run one task or step: depends, loops, when, arguments, then the target template and its exit hook."""
    spec = call.spec
    node = engine.node(call.node_id, called_template(spec))
    try:
        omitted = omission(spec, call.siblings)
        if omitted:
            engine.skipped_outputs(call.scope, spec, node)
            return CallResult(engine.update(node, "Omitted", omitted).phase)
        items = loop_items(spec, engine.current(call.variables))
    except InputError as error:
        return CallResult(engine.update(node, "Error", str(error)).phase)
    loop_phases = None
    if items is None:
        phase = run_one(engine, replace(call, variables=engine.current(call.variables)))
    else:
        phase, loop_phases = run_loop(engine, call, node, items)
    phase = run_exit_hook(engine, call, node, phase)
    allowed = spec.get("continueOn") or {}
    continued = phase == "Failed" and allowed.get("failed") or phase == "Error" and allowed.get("error")
    return CallResult(phase, loop_phases, bool(continued))


def omission(spec: dict[str, Any], siblings: Siblings) -> str | None:
    """Why a call is Omitted (its `depends` is false, or a `dependencies` entry did not succeed), or None."""
    if "depends" in spec:
        groups, continued = dict(siblings.loops), set(siblings.continued)
        if not expressions.depends(spec["depends"], dict(siblings.phases), groups, continued):
            return f"depends: {spec['depends']}"
    if "dependencies" in spec:
        ok = ("Succeeded", "Skipped")
        if any(siblings.phases[d] not in ok and d not in siblings.continued for d in spec["dependencies"]):
            return "a dependency did not succeed"
    return None


def run_loop(engine: Runtime, call: Call, node: Node, items: list[Any]) -> tuple[str, list[str]]:
    """One child per item, at once; the loop fails when a child did."""
    node.leaf = False
    engine.update(node, "Running")
    children = [
        replace(
            call,
            node_id=f"{call.node_id}({index}:{label(item)})",
            variables={**engine.current(call.variables), **item_variables(item)},
        )
        for index, item in enumerate(items)
    ]
    for child in children:  # in item order, the order a loop's outputs aggregate in
        engine.node(child.node_id, called_template(call.spec))
    with engine.pool(min(len(items), 64)) as pool:
        phases = [future.result() for future in [pool.submit(run_one, engine, child) for child in children]]
    bad = [p for p in phases if p in BAD]
    phase = "Skipped" if not items else "Failed" if bad else "Succeeded"
    engine.update(node, phase, f"{len(bad)} of {len(items)} failed" if bad else "")
    return phase, phases


def run_one(engine: Runtime, call: Call) -> str:
    """One run of a call (a loop's child, or the call itself): its `when`, then the template it calls."""
    spec, variables = call.spec, call.variables
    node = engine.node(call.node_id, called_template(spec))
    with call.context.children if call.context.children is not None else ExitStack():
        try:
            if "when" in spec:
                when = expressions.substitute(str(spec["when"]), variables)
                if not expressions.condition(when):
                    engine.skipped_outputs(call.scope, spec, node)
                    return engine.update(node, "Skipped", f"when '{when}' evaluated false").phase
            arguments = call_arguments(spec, variables)
            artifacts = artifact_arguments(spec, variables)
            target = engine.target(call.scope, spec)
        except InputError as error:
            return engine.update(node, "Error", str(error)).phase
        if call.context.deadline is not None and time.time() >= call.context.deadline:
            return engine.update(node, "Failed", "Step exceeded its deadline").phase
        if engine.stopping.is_set():
            return engine.update(node, "Failed", "stopped").phase
        context = Context(variables, call.context.deadline, depth=call.context.depth)
        return engine.run(target, arguments, call.node_id, context, artifacts).phase


def run_exit_hook(engine: Runtime, call: Call, node: Node, phase: str) -> str:
    """A step's or task's exit hook, run after it: its failure fails it."""
    hook = exit_hook_of(call.spec)
    if not hook or phase in ("Skipped", "Omitted"):
        return phase
    name = call.spec["name"]
    kind = "tasks" if "tasks.name" in call.variables else "steps"
    variables = {**call.variables, **call_variables(kind, name, node, engine.children(node))}
    hook_id = f"{node.id}.onExit"
    engine.node(hook_id, called_template(hook))
    result = run_one(
        engine, replace(call, spec={"name": f"{name}.onExit", **hook}, node_id=hook_id, variables=variables)
    )
    return "Failed" if result in BAD and phase == "Succeeded" else phase


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
        if artifact.get("from") or artifact.get("fromExpression"):
            source = artifact.get("from") or "{{=" + str(artifact["fromExpression"]) + "}}"
            passed[name] = {"from": expressions.substitute(str(source), variables), "subPath": artifact.get("subPath")}
        elif "raw" in artifact:
            passed[name] = {"raw": expressions.substitute(str((artifact["raw"] or {}).get("data", "")), variables)}
        elif repository_key(artifact) is not None:
            passed[name] = {"key": expressions.substitute(repository_key(artifact) or "", variables)}
    return passed
