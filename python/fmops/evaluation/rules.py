"""The promotion gate's rules, and the decision they make.

A rules file (YAML; packaged names live in python/fmops/recipes/gate/<name>.yaml) says:

    min:              # absolute floors: candidate value >= floor
      demo_addition/exact_match: 0.2
    max_regression:   # largest tolerated drop below the baseline
      demo_addition/exact_match: 0.05
    stderr_factor: 2.0    # a drop blocks only beyond the tolerance AND beyond 2 standard errors of the difference
    max_forgetting: 0.3   # the training run's forgetting (replay loss rise, nats/token) may not exceed this

Metrics are named `task/metric` as in an evaluation's metrics.json. Every rule must hold to promote; a
metric the candidate lacks fails its rule. Without a baseline the regression rules do not apply (the
reasons say so); a metric the baseline lacks has nothing to regress from.

A regression blocks when the drop (baseline - candidate) exceeds both `max_regression` and
`stderr_factor` x sqrt(se_candidate^2 + se_baseline^2): a drop the evaluation's own noise explains is not a
regression. A missing stderr on either side, or stderr_factor 0, leaves the tolerance alone.

The gate fails closed on numbers it cannot trust: a rule whose metric has a NaN or infinite value or stderr,
a negative stderr, or a stderr above half the metric's scale (see `untrusted`) fails, whatever the comparison
would have said. lm-eval does emit NaN, and NaN compares False both ways, so unchecked it would pass a rule.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator

from fmops.core import config
from fmops.core.errors import InputError
from fmops.evaluation.baseline import Results

SLACK = 1e-12  # a drop equal to its limit holds, whatever the float rounding of the subtraction
STDERR_SCALE_FRACTION = 0.5
"""A mean of samples that lie in a range of width R has a standard deviation of at most R/2 (Popoviciu's
inequality), so its standard error is at most R/2 too; a larger one is corrupt, and would widen the noise band
until any drop passes. The scale R is 1 for the [0, 1] scores the gate compares (acc, exact_match), or the
metric's own magnitude when it is larger (BLEU-like 0-100 scores)."""

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Rules(config.StageConfig):
    """What the gate checks. Unknown keys are an error."""

    min: dict[str, FiniteFloat] = Field(default_factory=dict, description="task/metric -> lowest value to promote")
    max_regression: dict[str, FiniteFloat] = Field(
        default_factory=dict, description="task/metric -> largest allowed drop below the baseline"
    )
    stderr_factor: float = Field(
        2.0,
        ge=0,
        allow_inf_nan=False,
        description="a drop blocks only beyond this many standard errors of the difference (0: off)",
    )
    max_forgetting: float | None = Field(
        None, allow_inf_nan=False, description="largest allowed forgetting of the --training run (None: not checked)"
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

    def regression_tasks(self) -> set[str]:
        return {key.partition("/")[0] for key in self.max_regression}


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
    brief: str
    """A few words for the one-line summary (what failed and by how much)."""

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
    try:
        rules = Rules(**{**rules.model_dump(), "min": {**rules.min, **parse_min(floors)}})
    except ValidationError as error:
        raise InputError(f"--min: {error.errors()[0]['msg']}") from None
    if not rules.min and not rules.max_regression and rules.max_forgetting is None:
        raise InputError("no rules: give --rules NAME|FILE or --min task/metric=value")
    return rules


def _missing(rule: str, metric: str, threshold: float, base: float | None) -> Check:
    reason = f"{metric} is missing from the candidate"
    return Check(rule, metric, threshold, None, base, False, reason, f"{metric} missing")


def stderr_bound(*values: float) -> float:
    """The largest believable standard error of a metric with these values (see STDERR_SCALE_FRACTION)."""
    return STDERR_SCALE_FRACTION * max(1.0, *(abs(value) for value in values))


def untrusted(results: Results, metric: str, role: str) -> str | None:
    """Why `metric`'s numbers in `results` (the `role`'s) cannot be compared, or None when they can."""
    value, stderr = results.value(metric), results.stderr(metric)
    if value is None:
        return None
    if not math.isfinite(value):
        return f"{role} value {value} is not finite"
    if stderr is None:
        return None
    if not math.isfinite(stderr) or stderr < 0:
        return f"{role} stderr {stderr} is not a finite non-negative number"
    bound = stderr_bound(value)
    if stderr > bound:
        return f"{role} stderr {stderr:g} > {bound:g} (half the metric's scale)"
    return None


def _untrusted_check(
    rule: str, metric: str, threshold: float, value: float | None, base: float | None, why: str
) -> Check:
    reason = f"{metric}: {why}; the rule cannot hold on numbers that cannot be trusted"
    return Check(rule, metric, threshold, value, base, False, reason, f"{metric} {why}")


def _floor(metric: str, floor: float, candidate: Results) -> Check:
    value = candidate.value(metric)
    if value is None:
        return _missing("min", metric, floor, None)
    why = untrusted(candidate, metric, "candidate")
    if why:
        return _untrusted_check("min", metric, floor, value, None, why)
    verdict = ">=" if value >= floor else "<"
    reason = f"{metric} {value:.4f} {verdict} floor {floor}"
    return Check("min", metric, floor, value, None, value >= floor, reason, f"{metric} {value:.4f} < {floor}")


def noise_band(metric: str, factor: float, candidate: Results, baseline: Results) -> tuple[float | None, str]:
    """(factor x the standard error of the difference, its wording), or (None, why the tolerance stands alone)."""
    if factor == 0:
        return None, "stderr_factor 0: the tolerance alone applies"
    errors = {"candidate": candidate.stderr(metric), "baseline": baseline.stderr(metric)}
    lacking = [side for side, error in errors.items() if error is None]
    if lacking:
        return None, f"no stderr for the {' and the '.join(lacking)}: the tolerance alone applies"
    se = math.hypot(errors["candidate"], errors["baseline"])
    return factor * se, f"{factor:g} x se {se:.4f} = {factor * se:.4f}"


def _regression(metric: str, tolerance: float, factor: float, candidate: Results, baseline: Results) -> Check:
    value, base = candidate.value(metric), baseline.value(metric)
    if value is None:
        return _missing("max_regression", metric, tolerance, base)
    if base is None:
        reason = f"{metric}: the baseline has no value, nothing to regress from"
        return Check("max_regression", metric, tolerance, value, None, True, reason, "")
    why = untrusted(candidate, metric, "candidate") or untrusted(baseline, metric, "baseline")
    if why:
        return _untrusted_check("max_regression", metric, tolerance, value, base, why)
    drop = base - value
    band, band_text = noise_band(metric, factor, candidate, baseline)
    beyond_tolerance = drop > tolerance + SLACK
    beyond_noise = band is None or drop > band + SLACK
    passed = not (beyond_tolerance and beyond_noise)
    if not beyond_tolerance:
        verdict = f"within tolerance {tolerance} ({band_text})"
    elif band is None:
        verdict = f"beyond tolerance {tolerance} ({band_text})"
    else:
        verdict = f"beyond tolerance {tolerance} and {'beyond' if beyond_noise else 'within'} {band_text}"
    reason = f"{metric} {value:.4f} vs baseline {base:.4f}: drop {drop:.4f} {verdict}"
    brief = f"{metric} drop {drop:.4f} > {tolerance}" + (f" and > {factor:g} se {band:.4f}" if band is not None else "")
    return Check("max_regression", metric, tolerance, value, base, passed, reason, brief)


def forgetting_check(limit: float, forgetting: float | None, training: str) -> Check:
    """The training run's forgetting against `max_forgetting`; unmeasured forgetting fails (replay is required)."""
    if forgetting is None:
        reason = (
            f"{training} has no forgetting (trained without --replay); max_forgetting {limit} "
            "needs replay data to measure it"
        )
        return Check("max_forgetting", "forgetting", limit, None, None, False, reason, "forgetting unmeasured")
    if not math.isfinite(forgetting):
        reason = f"forgetting {forgetting} of {training} is not finite; the rule cannot hold on it"
        return Check("max_forgetting", "forgetting", limit, forgetting, None, False, reason, f"forgetting {forgetting}")
    passed = forgetting <= limit + SLACK
    verdict = "<=" if passed else ">"
    reason = f"forgetting {forgetting:.4f} {verdict} max_forgetting {limit} (replay loss rise of {training})"
    return Check(
        "max_forgetting",
        "forgetting",
        limit,
        forgetting,
        None,
        passed,
        reason,
        f"forgetting {forgetting:.2f} > {limit:.2f}",
    )


def decide(rules: Rules, candidate: Results, baseline: Results | None) -> list[Check]:
    """Every evaluation rule applied to the candidate (and the baseline, when there is one)."""
    checks = [_floor(metric, floor, candidate) for metric, floor in sorted(rules.min.items())]
    if baseline is not None:
        factor = rules.stderr_factor
        checks += [_regression(m, t, factor, candidate, baseline) for m, t in sorted(rules.max_regression.items())]
    return checks


def summary(promote: bool, checks: list[Check]) -> str:
    """One line: `promote: 5 rules hold`, or `blocked: ` and what failed."""
    if promote:
        return "promote: 1 rule holds" if len(checks) == 1 else f"promote: {len(checks)} rules hold"
    return "blocked: " + "; ".join(check.brief for check in checks if not check.passed)
