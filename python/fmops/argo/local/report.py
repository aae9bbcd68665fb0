"""The end of `fmops run`: a table of every phase's key metrics, each evaluation's scores with their standard
errors, the gate's decision with its reason and its safety table, what the deploy step left serving, where
things are, and report.md.

A local deploy (`fmops deploy --target local`) serves the model only for its smoke test and stops the server
when its step ends, so its `endpoint` output is empty and the report gives the command that serves the
production model instead of an address nothing answers any more."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fmops.argo.local.nodes import Node

KEY_METRICS = (
    "loss",
    "eval_loss",
    "heldout_loss",
    "replay_loss",
    "rewards/accuracies",
    "rewards/margins",
    "tokens_per_s",
    "mfu",
)


def parse_metrics(node: Node) -> dict[str, Any] | None:
    try:
        value = json.loads(node.outputs.get("metrics", ""))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def is_evaluation(metrics: dict[str, Any]) -> bool:
    """An evaluation's metrics.json: task -> metric -> {value, ...}."""
    return bool(metrics) and all(
        isinstance(v, dict) and all(isinstance(m, dict) and "value" in m for m in v.values()) for v in metrics.values()
    )


def phase_name(node: Node) -> str:
    parts = node.id.split("/")
    return parts[1] if len(parts) > 1 else parts[0]


def training_rows(nodes: list[Node]) -> list[tuple[str, dict[str, float]]]:
    rows = []
    for node in nodes:
        metrics = parse_metrics(node) if node.leaf else None
        if metrics is None or is_evaluation(metrics):
            continue
        flat = {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        chosen = {k: flat[k] for k in KEY_METRICS if k in flat} or dict(list(flat.items())[:4])
        rows.append((phase_name(node), chosen))
    return rows


def evaluation_rows(nodes: list[Node]) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
    """One row per evaluation: task/metric -> its score and, where lm-eval gave one, its standard error."""
    columns: list[str] = []
    rows = []
    for node in nodes:
        metrics = parse_metrics(node) if node.leaf else None
        if not metrics or not is_evaluation(metrics):
            continue
        values = {
            f"{task}/{metric}": score(entry)
            for task, ms in metrics.items()
            for metric, entry in ms.items()
            if is_number(entry.get("value"))
        }
        columns += [c for c in values if c not in columns]
        rows.append((phase_name(node), values))
    return columns, rows


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def score(entry: dict[str, Any]) -> str:
    """`0.97 ± 0.01714`: the value and its standard error; the value alone when there is none."""
    stderr = entry.get("stderr")
    return f"{number(entry['value'])} ± {number(stderr)}" if is_number(stderr) else number(entry["value"])


def number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def gate_decisions(nodes: list[Node]) -> list[str]:
    """`Gate (node): promote = **true**; promote: 5 rules hold`, the gate's one-line reason after its decision."""
    lines = []
    for node_id, promote in outputs_named(nodes, "promote"):
        node = next(n for n in nodes if n.id == node_id)
        reason = cell(node.outputs.get("summary"), width=400) or "no reason recorded"
        lines.append(f"Gate ({node_id}): promote = **{promote}**; {reason}")
    return lines


def safety_tables(nodes: list[Node]) -> list[tuple[str, list[str]]]:
    """(gate node, the lines of its safety table) for each gate that wrote one (its `safety` artifact, safety.md:
    every metric of the candidate's safety tasks with its direction, floor, ceiling and verdict)."""
    tables = []
    for node_id, _ in outputs_named(nodes, "promote"):
        path = next(n for n in nodes if n.id == node_id).artifacts.get("safety")
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines() if path else []
        except (OSError, UnicodeDecodeError):
            lines = []
        if lines:
            tables.append((node_id, lines))
    return tables


def deployments(nodes: list[Node]) -> list[str]:
    """What each deploy step left serving: its endpoint, or (a local deploy, whose server stopped with the
    step) the version it made production and how to serve it."""
    lines = []
    for node_id, endpoint in outputs_named(nodes, "endpoint"):
        if endpoint:
            lines.append(f"Deployed ({node_id}): serving at {endpoint}")
            continue
        record = deployment_record(next(n for n in nodes if n.id == node_id))
        if record.get("status") == "promoted" and isinstance(record.get("version_uri"), str):
            production = record["version_uri"].rstrip("/").rpartition("/")[0] + "/production"
            lines.append(
                f"Deployed ({node_id}): version {record.get('version')} is production; nothing serves it now (the "
                f"local server stopped after its smoke test): `fmops serve --model {production}`"
            )
        else:
            lines.append(f"Deployed ({node_id}): nothing serves it now (a local deploy stops its server with the step)")
    return lines


def deployment_record(node: Node) -> dict[str, Any]:
    """The deploy step's deploy.json (its `deployment` artifact), or {} when it has none readable."""
    path = node.artifacts.get("deployment")
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def console_tables(nodes: list[Node]) -> list[Table]:
    tables = []
    training = training_rows(nodes)
    if training:
        table = Table(title="phase metrics")
        table.add_column("phase")
        table.add_column("metrics")
        for phase, metrics in training:
            table.add_row(phase, "  ".join(f"{k}={number(v)}" for k, v in metrics.items()))
        tables.append(table)
    columns, rows = evaluation_rows(nodes)
    if rows:
        table = Table(title="evaluation (held-out)")
        table.add_column("model")
        for column in columns:
            table.add_column(column)
        for phase, values in rows:
            table.add_row(phase, *[values.get(c, "") for c in columns])
        tables.append(table)
    return tables


def outputs_named(nodes: list[Node], name: str) -> list[tuple[str, str]]:
    return [(node.id, node.outputs[name]) for node in nodes if name in node.outputs and node.leaf]


def cell(text: str | None, width: int = 60) -> str:
    """outputs.result as one table cell: one line, shortened, pipes escaped."""
    flat = " ".join((text or "").split()).replace("|", "\\|")
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def markdown(title: str, status: str, nodes: list[Node], run_dir: Path) -> str:
    header = "| step | status | seconds | attempts | result |"
    lines = [f"# {title}: {status}", "", header, "| --- | --- | --- | --- | --- |"]
    lines += [f"| {n.id} | {n.phase} | {n.seconds or 0:.1f} | {n.attempts} | {cell(n.result)} |" for n in nodes]
    training = training_rows(nodes)
    if training:
        lines += ["", "## Phase metrics", "", "| phase | metrics |", "| --- | --- |"]
        lines += [f"| {p} | {', '.join(f'{k}={number(v)}' for k, v in m.items())} |" for p, m in training]
    columns, rows = evaluation_rows(nodes)
    if rows:
        lines += [
            "",
            "## Evaluation (held-out demo sets)",
            "",
            "Each score ± its standard error (lm-evaluation-harness's, over the task's samples).",
            "",
            "| model | " + " | ".join(columns) + " |",
            "| --- |" + " --- |" * len(columns),
        ]
        lines += [f"| {p} | " + " | ".join(v.get(c, "") for c in columns) + " |" for p, v in rows]
    for line in gate_decisions(nodes):
        lines += ["", line]
    for node_id, table in safety_tables(nodes):
        lines += ["", f"## Safety ({node_id})", "", *table]
    for line in deployments(nodes):
        lines += ["", line]
    images = sorted((run_dir / "artifacts").rglob("*.png")) if (run_dir / "artifacts").is_dir() else []
    if images:
        lines += ["", "## Plots", ""]
        lines += [f"![{p.parent.relative_to(run_dir / 'artifacts')}]({p.relative_to(run_dir)})" for p in images]
    return "\n".join(lines) + "\n"


def show(title: str, status: str, nodes: list[Node], run_dir: Path) -> Path:
    """Print the final tables and where things are; write report.md. Returns its path."""
    console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)
    for table in console_tables(nodes):
        console.print(table)
    for line in gate_decisions(nodes):
        console.print(line.replace("**", ""), markup=False)
    for node_id, table in safety_tables(nodes):
        console.print(f"Safety ({node_id}):", *table, sep="\n", markup=False)
    for line in deployments(nodes):
        console.print(line.replace("**", ""), markup=False)
    report = run_dir / "report.md"
    report.write_text(markdown(title, status, nodes, run_dir), encoding="utf-8")
    for _, value in outputs_named(nodes, "final-model"):
        console.print(f"model:  {value}")
    console.print(f"report: {report}")
    console.print(f"logs:   {run_dir / 'steps'}/<step>/log.txt")
    return report
