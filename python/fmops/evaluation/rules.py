"""The promotion gate's rules, and the decision they make.

A rules file (YAML; packaged names live in python/fmops/recipes/gate/<name>.yaml) says:

    min:              # absolute floors: candidate value >= floor
      demo_addition/exact_match: 0.2
    max_regression:   # no regression beyond a tolerance: candidate >= baseline - tolerance
      demo_addition/exact_match: 0.05

Metrics are named `task/metric` as in an evaluation's metrics.json. Every rule must hold to promote; a
metric the candidate lacks fails its rule. Without a baseline the regression rules do not apply (the
reasons say so); a metric the baseline lacks has nothing to regress from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import Field, field_validator

from fmops.core import config
from fmops.core.errors import InputError
from fmops.evaluation.baseline import Results


class Rules(config.StageConfig):
    """What the gate checks. Unknown keys are an error."""

    min: dict[str, float] = Field(default_factory=dict, description="task/metric -> lowest value to promote")
    max_regression: dict[str, float] = Field(
        default_factory=dict, description="task/metric -> largest allowed drop below the baseline"
    )

    @field_validator("min", "max_regression")
    @classmethod
    def _metric_names(cls, rules: dict[str, float]) -> dict[str, float]:
        for key, value in rules.items():
            task, _, metric = key.partition("/")
            if not task or not metric:
                raise ValueError(f"'{key}' is not a metric name of the form task/metric")
            if value < 0:
                raise ValueError(f"'{key}': {value} is negative")
        return rules


@dataclass(frozen=True)
class Check:
    """One rule applied: what was compared, and whether it holds."""

    rule: str
    metric: str
    threshold: float
    candidate: float | None
    baseline: float | None
    passed: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_min(texts: list[str]) -> dict[str, float]:
    """`--min task/metric=value` flags -> floors."""
    floors: dict[str, float] = {}
    for text in texts:
        key, sep, raw = text.partition("=")
        try:
            floors[key.strip()] = float(raw)
        except ValueError:
            sep = ""
        if not sep or "/" not in key:
            raise InputError(f"--min {text}: expected task/metric=value, e.g. demo_addition/exact_match=0.5")
    return floors


def load(name_or_uri: str, floors: list[str]) -> Rules:
    """The packaged rules `name_or_uri` (or a YAML file URI), with --min floors added on top."""
    rules = config.load(Rules, "gate", name_or_uri) if name_or_uri else Rules()
    extra = parse_min(floors)
    rules = Rules(min={**rules.min, **extra}, max_regression=rules.max_regression)
    if not rules.min and not rules.max_regression:
        raise InputError("no rules: give --rules NAME|FILE or --min task/metric=value")
    return rules


def _floor(metric: str, floor: float, candidate: Results) -> Check:
    value = candidate.value(metric)
    if value is None:
        return Check("min", metric, floor, None, None, False, f"{metric} is missing from the candidate")
    verdict = ">=" if value >= floor else "<"
    return Check("min", metric, floor, value, None, value >= floor, f"{metric} {value:.4f} {verdict} floor {floor}")


def _regression(metric: str, tolerance: float, candidate: Results, baseline: Results) -> Check:
    value, base = candidate.value(metric), baseline.value(metric)
    if value is None:
        return Check("max_regression", metric, tolerance, None, base, False, f"{metric} is missing from the candidate")
    if base is None:
        reason = f"{metric}: the baseline has no value, nothing to regress from"
        return Check("max_regression", metric, tolerance, value, None, True, reason)
    drop = base - value
    passed = drop <= tolerance + 1e-12
    relation = "within" if passed else "beyond"
    reason = (
        f"{metric} {value:.4f} vs baseline {base:.4f}: change {value - base:+.4f}, {relation} tolerance {tolerance}"
    )
    return Check("max_regression", metric, tolerance, value, base, passed, reason)


def decide(rules: Rules, candidate: Results, baseline: Results | None) -> list[Check]:
    """Every rule applied to the candidate (and the baseline, when there is one)."""
    checks = [_floor(metric, floor, candidate) for metric, floor in sorted(rules.min.items())]
    if baseline is not None:
        checks += [_regression(m, t, candidate, baseline) for m, t in sorted(rules.max_regression.items())]
    return checks
