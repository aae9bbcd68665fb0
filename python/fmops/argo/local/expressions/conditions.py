"""The conditions a workflow decides with: a step's `when` (govaluate over the substituted text), a task's
`depends` (enhanced depends logic over its dependencies' results) and retryStrategy.expression (expr over
lastRetry.*)."""

from __future__ import annotations

import re

from fmops.argo.local.expressions.evaluator import Unresolved, evaluate
from fmops.argo.local.expressions.functions import render
from fmops.core.errors import InputError

RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
HANDLING = ("Failed", "Errored", "AllFailed")  # a depends that names one of these reacts to a failure
FAILED = ("Failed", "Error")
DEPENDS_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def condition(text: str) -> bool:
    """A `when` condition after substitution, as govaluate reads it."""
    try:
        value = evaluate(text, {}, loose=True)
    except Unresolved as error:  # loose reading: only a missing key of a literal map
        raise InputError(f"when {text.strip()!r}: unknown name '{error}'") from None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    shown = render(value) if not callable(value) and not isinstance(value, dict | list) else type(value).__name__
    raise InputError(f"when {text.strip()[:80]!r}: {shown[:80]!r} is not a boolean")


def words(text: str) -> list[str]:
    return list(dict.fromkeys(DEPENDS_WORD.findall(text)))


def split_reference(word: str) -> tuple[str, str]:
    """`task-1.Failed` -> (task-1, Failed); a bare task name -> (name, "")."""
    name, _, result = word.rpartition(".")
    return (name, result) if result in RESULTS else (word, "")


def depends_on(text: str) -> list[str]:
    """The task names a depends expression mentions."""
    return list(dict.fromkeys(split_reference(word)[0] for word in words(text)))


def handled_results(text: str) -> set[str]:
    """Tasks whose failure a depends expression explicitly reacts to (.Failed, .Errored, .AllFailed)."""
    return {name for name, result in map(split_reference, words(text)) if result in HANDLING}


def reference_truth(result: str, phase: str, children: list[str], continued: bool) -> bool:
    """Whether `task.result` holds for a task that ended in `phase` (`children`: a loop's children's phases).
    A bare name (no result) means it succeeded, was skipped, is a daemon, or failed with continueOn allowing it."""
    if not result:
        return phase in ("Succeeded", "Skipped", "Daemoned") or continued
    if result == "AnySucceeded":
        return "Succeeded" in children or phase == "Succeeded" and not children
    if result == "AllFailed":
        return bool(children) and all(p in FAILED for p in children) or not children and phase == "Failed"
    if result == "Errored":
        return phase == "Error"
    return phase == result


def depends(
    text: str, results: dict[str, str], group: dict[str, list[str]] | None = None, continued: set[str] | None = None
) -> bool:
    """Enhanced depends logic. `results`: task name -> its final phase; `group`: a looped task's children's
    phases (for AnySucceeded/AllFailed); `continued`: failed tasks whose continueOn lets their dependants go on."""
    for name in depends_on(text):
        if name not in results:
            raise InputError(f"depends {text!r}: no task named '{name}'")
    truths = {}
    for reference in words(text):
        name, result = split_reference(reference)
        truths[reference] = reference_truth(
            result, results[name], (group or {}).get(name, []), name in (continued or set())
        )
    # task names may hold '-' and '.', so each reference is replaced by a placeholder before parsing
    longest_first = sorted(truths, key=len, reverse=True)
    placeholders = {f"_r{i}": truths[reference] for i, reference in enumerate(longest_first)}
    expression = text
    for key, reference in zip(placeholders, longest_first, strict=True):
        expression = re.sub(rf"(?<![\w.-]){re.escape(reference)}(?![\w.-])", key, expression)
    return bool(evaluate(expression, placeholders))


def retry_allowed(expression: str, status: str, exit_code: int | None, duration: float = 0.0) -> bool:
    """retryStrategy.expression over lastRetry.status, lastRetry.exitCode and lastRetry.duration."""
    variables = {
        "lastRetry.status": status,
        "lastRetry.exitCode": "-1" if exit_code is None else str(exit_code),
        "lastRetry.duration": str(int(duration)),
    }
    try:
        value = evaluate(expression, variables)
    except Unresolved as error:
        raise InputError(f"retryStrategy.expression {expression!r}: unknown name '{error}'") from None
    return value is True
