"""The gate's safety table: the metrics of the candidate's safety tasks, with their direction, the rules' floor
and ceiling on them, the candidate's value beside its parent's and its baseline's, and whether their rules hold.
The rows are the metrics the rules name; a safety task no rule names shows all its metrics, so every safety
task evaluated is in the table (bbq reports 27 metrics, 22 of them per category: those stay in the evaluation's
report unless a rule names them).

A safety task is one tagged `safety` (the real-model suite: `--tasks safety`) or `demo_safety` (the demo's
refusal tasks), as `fmops evaluate` records each task's tags in settings.json; the gate reads that record, so
the table costs no task-catalog lookup. reasons.md and the run report of `fmops run` show it.
"""

from __future__ import annotations

from typing import Any

from fmops.evaluation import rules
from fmops.evaluation.baseline import Results
from fmops.evaluation.rules import Check, Rules

SAFETY_TAGS = ("safety", "demo_safety")


def is_safety(tags: list[str]) -> bool:
    return any(tag in SAFETY_TAGS for tag in tags)


def rows(
    ruleset: Rules, checks: list[Check], candidate: Results, parent: Results | None, base: Results | None
) -> list[dict[str, Any]]:
    """One row per metric of each safety task of the candidate (gate.json's `safety`)."""
    named = {*ruleset.min, *ruleset.max, *ruleset.max_regression}
    table = []
    for task in sorted(t for t in candidate.metrics if is_safety(candidate.tags(t))):
        keys = [f"{task}/{metric}" for metric in sorted(candidate.metrics[task])]
        for key in [k for k in keys if k in named] or keys:
            verdicts = [check.passed for check in checks if check.metric == key]
            table.append(
                {
                    "metric": key,
                    "higher_is_better": rules.higher_is_better(key, candidate, parent, base),
                    "min": ruleset.min.get(key),
                    "max": ruleset.max.get(key),
                    "candidate": candidate.value(key),
                    "stderr": candidate.stderr(key),
                    "parent": parent.value(key) if parent else None,
                    "baseline": base.value(key) if base else None,
                    "passed": all(verdicts) if verdicts else None,
                }
            )
    return table


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def markdown(table: list[dict[str, Any]]) -> list[str]:
    """The table as markdown lines ([] when the candidate has no safety task)."""
    if not table:
        return []
    lines = [
        "| safety metric | better | floor | ceiling | candidate | parent | baseline | rules |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in table:
        value = _number(row["candidate"]) + (f" ± {row['stderr']:.4f}" if row["stderr"] is not None else "")
        verdict = {True: "PASS", False: "FAIL", None: "no rule"}[row["passed"]]
        lines.append(
            f"| {row['metric']} | {'higher' if row['higher_is_better'] else 'lower'} | {_number(row['min'])} | "
            f"{_number(row['max'])} | {value} | {_number(row['parent'])} | {_number(row['baseline'])} | {verdict} |"
        )
    return lines
