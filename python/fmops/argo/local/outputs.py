"""What a finished node gives the calls after it: its outputs as `tasks.X.*` / `steps.X.*` variables (a
loop's aggregated), a DAG's or steps template's own outputs, and the defaults a skipped or failed node keeps."""

from __future__ import annotations

import json
from typing import Any

from fmops.argo.documents import parameters
from fmops.argo.local import expressions
from fmops.argo.local.nodes import Node, timestamp
from fmops.core.errors import InputError


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
    values: dict[str, Any] = {
        f"{prefix}.status": node.phase,
        f"{prefix}.id": node.id,
        f"{prefix}.startedAt": timestamp(node.started),
        f"{prefix}.finishedAt": timestamp(node.finished),
    }
    if children and not node.leaf and not node.outputs:
        return values | loop_variables(prefix, children)
    values |= {f"{prefix}.outputs.parameters.{k}": v for k, v in node.outputs.items()}
    values |= {f"{prefix}.outputs.artifacts.{k}": v for k, v in node.artifacts.items()}
    if node.outputs:
        values[f"{prefix}.outputs.parameters"] = json.dumps(node.outputs, separators=(",", ":"))
    if node.result is not None:
        values[f"{prefix}.outputs.result"] = node.result
    if node.exit_code is not None:
        values[f"{prefix}.exitCode"] = node.exit_code
    return values


def loop_variables(prefix: str, children: list[Node]) -> dict[str, Any]:
    """A looped call's outputs: each parameter and the result as a JSON list over the children that ran."""
    done = [c for c in children if c.phase not in ("Skipped", "Omitted")]
    names = list(dict.fromkeys(k for c in done for k in c.outputs))
    values: dict[str, Any] = {
        f"{prefix}.outputs.parameters.{k}": aggregate([c.outputs.get(k) for c in done]) for k in names
    }
    values[f"{prefix}.outputs.parameters"] = json.dumps([c.outputs for c in done], separators=(",", ":"))
    values[f"{prefix}.outputs.result"] = aggregate([c.result for c in done if c.result is not None])
    return values


def composite_outputs(template: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """A DAG's or steps template's outputs: parameters from valueFrom.parameter/expression, artifacts from
    valueFrom.parameter... `from`, and no result of its own."""
    outputs: dict[str, Any] = {"parameters": {}, "artifacts": {}, "result": None}
    declared = template.get("outputs") or {}
    for parameter in parameters(declared):
        source = parameter.get("valueFrom") or {}
        text = source.get("parameter") or ("{{=" + source["expression"] + "}}" if "expression" in source else None)
        if text is None:
            continue
        try:
            outputs["parameters"][parameter["name"]] = expressions.substitute(text, variables)
        except InputError:
            if "default" not in source:
                raise
            outputs["parameters"][parameter["name"]] = str(source["default"])
    for artifact in declared.get("artifacts") or []:
        expression = "{{=" + artifact["fromExpression"] + "}}" if "fromExpression" in artifact else None
        source = artifact.get("from") or expression
        if source:
            outputs["artifacts"][artifact["name"]] = expressions.substitute(source, variables)
    return outputs


def default_outputs(template: dict[str, Any], node: Node) -> None:
    """A failed, skipped or omitted node's output parameters that declare a default still have it (as Argo
    reports them)."""
    for parameter in parameters(template.get("outputs")):
        source = parameter.get("valueFrom") or {}
        if "default" in source and parameter["name"] not in node.outputs:
            node.outputs[parameter["name"]] = str(source["default"])
