"""The promotion gate: apply the rules to a candidate's evaluation (and its baseline's, its parent's, and its
training run's forgetting); write the decision, with the safety table. Every input is read and checked before
anything is written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmops.core import manifest, storage
from fmops.core.errors import InputError
from fmops.evaluation import baseline, rules, safety
from fmops.evaluation.rules import Check, Rules


@dataclass(frozen=True, kw_only=True)
class Inputs:
    candidate: str
    """The candidate's `fmops evaluate` output."""
    baseline: str = ""
    """An evaluate output or a registry version/pointer; '' = none."""
    parent: str = ""
    """The evaluate output of the model the candidate was trained from (the pipeline's SFT evaluation for a DPO
    candidate); the regression rules apply against it too; '' = none."""
    training: str = ""
    """The candidate's `fmops pretrain` output, for max_forgetting; '' = none."""
    output: str = ""
    """URI for the decision and its manifest; '' = none."""
    results_dir: str = ""
    """Local folder for the decision files; '' = none."""


@dataclass(frozen=True)
class Decision:
    promote: bool
    checks: list[Check]
    files: dict[str, str]
    """promote, summary, gate.json, reasons.md, safety.md, metrics.json: name -> text, as written."""


def reasons(
    promote: bool,
    checks: list[Check],
    candidate: str,
    base: baseline.Results | None,
    note: str,
    training: str = "",
    parent: str = "",
    table: list[dict[str, Any]] | None = None,
) -> str:
    """reasons.md: the decision first, then every rule and what it found, then the safety table."""
    lines = [
        f"# Gate: {'promote' if promote else 'blocked'}",
        "",
        f"- candidate: `{candidate}`",
        f"- baseline: `{base.uri}`" if base else f"- {note}; regression rules {_without_baseline(parent)}",
        *([f"- parent: `{parent}`"] if parent else []),
        *([f"- training: `{training}`"] if training else []),
        "",
    ]
    lines += [f"- {'PASS' if check.passed else 'FAIL'} {_rule(check)}: {check.reason}" for check in checks]
    if table:
        lines += ["", "## Safety", "", *safety.markdown(table)]
    return "\n".join(lines) + "\n"


def _without_baseline(parent: str) -> str:
    return "apply against the parent only" if parent else "do not apply"


def _rule(check: Check) -> str:
    return f"{check.rule} vs parent" if check.against == "parent" else check.rule


def gate(ruleset: Rules, inputs: Inputs) -> Decision:
    """Promote only when every rule holds; the decision's files go to results_dir and output when given."""
    started = manifest.now()
    candidate = baseline.evaluation(inputs.candidate)
    base, base_note = baseline.load(inputs.baseline)
    parent = baseline.evaluation(inputs.parent) if inputs.parent else None
    for other, against in ((base, "baseline"), (parent, "parent")):
        if other is not None and ruleset.max_regression:
            baseline.require_comparable(candidate, other, ruleset.regression_tasks(), against)
    rules.require_directions(ruleset, candidate, base, parent)
    forgetting = _forgetting(ruleset, inputs.training)
    checks = rules.decide(ruleset, candidate, base, parent)
    if ruleset.max_forgetting is not None:
        checks.insert(0, rules.forgetting_check(ruleset.max_forgetting, forgetting, inputs.training))
    promote = all(check.passed for check in checks)
    table = safety.rows(ruleset, checks, candidate, parent, base)
    decision: dict[str, Any] = {
        "promote": promote,
        "summary": rules.summary(promote, checks),
        "candidate": candidate.uri,
        "baseline": base.uri if base else None,
        "baseline_note": base_note,
        "parent": parent.uri if parent else None,
        "training": inputs.training or None,
        "forgetting": forgetting,
        "rules": ruleset.model_dump(),
        "checks": [check.as_dict() for check in checks],
        "safety": table,
    }
    metrics = {"promote": int(promote), "rules": len(checks), "failed": sum(not c.passed for c in checks)}
    files = {
        "promote": "true" if promote else "false",
        "summary": decision["summary"],
        "gate.json": json.dumps(decision, indent=2, sort_keys=True) + "\n",
        "reasons.md": reasons(promote, checks, candidate.uri, base, base_note, inputs.training, inputs.parent, table),
        "safety.md": "".join(line + "\n" for line in safety.markdown(table)),
        manifest.METRICS: json.dumps(metrics, indent=2, sort_keys=True) + "\n",
    }
    for name, text in files.items():
        if inputs.results_dir:
            storage.atomic_write_text(str(Path(inputs.results_dir) / name), text)
        if inputs.output:
            storage.atomic_write_text(storage.join(inputs.output, name), text)
    if inputs.output:
        manifest.write(
            inputs.output,
            stage="gate",
            config=decision["rules"],
            metrics=metrics,
            started_at=started,
            inputs={
                "candidate": candidate.uri,
                "baseline": base.uri if base else None,
                "parent": parent.uri if parent else None,
                "training": inputs.training or None,
            },
        )
    return Decision(promote=promote, checks=checks, files=files)


def _forgetting(ruleset: Rules, training: str) -> float | None:
    """The training run's forgetting (read whenever --training is given); max_forgetting without one is refused."""
    if ruleset.max_forgetting is not None and not training:
        raise InputError(
            f"the rules set max_forgetting {ruleset.max_forgetting}: give --training "
            "(the candidate's fmops pretrain output)"
        )
    return baseline.forgetting(training) if training else None
