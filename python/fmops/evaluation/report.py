"""The evaluation report: report.md (a table of candidate against baseline) and chart.png (grouped bars).

The Argo UI shows both as artifacts of the evaluate step. matplotlib with the Agg backend: no display.
"""

from __future__ import annotations

import io
from typing import Any

from fmops.evaluation.baseline import Results


def _cell(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "-"
    stderr = entry.get("stderr")
    return f"{entry['value']:.4f}" + (f" ± {stderr:.4f}" if stderr is not None else "")


def markdown(candidate: Results, baseline: Results | None, baseline_note: str, timing: dict[str, Any]) -> str:
    """The report: what was evaluated, one row per task metric, the chart, and the throughput."""
    lines = [
        "# Evaluation report",
        "",
        f"- candidate: `{candidate.uri}`",
        f"- {baseline_note}" if baseline is None else f"- baseline: `{baseline.uri}`",
        f"- samples: {timing['samples']} in {timing['seconds']:.1f} s ({timing['samples_per_second']:.1f} samples/s)",
        "",
        "| task | metric | samples | candidate | baseline | change |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for key in candidate.keys():
        task, _, metric = key.partition("/")
        entry = candidate.metrics[task][metric]
        base = baseline.metrics.get(task, {}).get(metric) if baseline else None
        change = f"{entry['value'] - base['value']:+.4f}" if base is not None else "-"
        lines.append(f"| {task} | {metric} | {entry['samples']} | {_cell(entry)} | {_cell(base)} | {change} |")
    lines += ["", "![candidate against baseline](chart.png)", ""]
    return "\n".join(lines)


def chart(candidate: Results, baseline: Results | None) -> bytes:
    """PNG bytes: one group of bars per task metric, candidate beside baseline, stderr as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = candidate.keys()
    positions = list(range(len(keys)))
    width = 0.38 if baseline else 0.6
    figure, axes = plt.subplots(figsize=(max(4.0, 1.6 * len(keys) + 1.5), 3.6))
    _bars(axes, candidate, keys, [p - (width / 2 if baseline else 0) for p in positions], width, "candidate")
    if baseline:
        _bars(axes, baseline, keys, [p + width / 2 for p in positions], width, "baseline")
    axes.set_xticks(positions, [key.replace("/", "\n") for key in keys], fontsize=8)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("score")
    axes.set_title("candidate against baseline" if baseline else "candidate (no baseline)")
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()


def _bars(axes, results: Results, keys: list[str], xs: list[float], width: float, label: str) -> None:
    values, errors = [], []
    for key in keys:
        task, _, metric = key.partition("/")
        entry = results.metrics.get(task, {}).get(metric) or {"value": 0.0}
        values.append(entry["value"])
        errors.append(entry.get("stderr") or 0.0)
    bars = axes.bar(xs, values, width, yerr=errors, capsize=3, label=label)
    axes.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
