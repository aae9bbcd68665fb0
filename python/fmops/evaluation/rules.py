"""The promotion gate's rules, and the decision they make.

A rules file (YAML; packaged names live in python/fmops/recipes/gate/<name>.yaml) says:

    min:              # absolute floors: candidate value >= floor (metrics where higher is better)
      demo_addition/exact_match: 0.2
    max:              # absolute ceilings: candidate value <= ceiling (metrics where lower is better)
      demo_overrefusal/refusal_rate: 0.05
    max_regression:   # largest tolerated worsening against the baseline and against the parent
      demo_addition/exact_match: 0.05
    stderr_factor: 2.0    # a worsening blocks only beyond the tolerance AND 2 standard errors of the difference
    max_forgetting: 0.3   # the training run's forgetting (replay loss rise, nats/token) may not exceed this

Metrics are named `task/metric` as in an evaluation's metrics.json. Every rule must hold to promote; a
metric the candidate lacks fails its rule. Without a baseline (or a parent) the regression rules do not
apply against it (the reasons say so); a metric the baseline lacks has nothing to regress from.

Direction: each metric's `higher_is_better`, as lm-eval reports it for its task (`fmops evaluate` records it in
metrics.json; an evaluation without it counts as higher is better, lm-eval's own default). A worsening is a
drop (baseline - candidate) where higher is better and a rise (candidate - baseline) where lower is better. A
floor on a lower-is-better metric, or a ceiling on a higher-is-better one, guards nothing and is refused.

The same `max_regression` tolerances compare the candidate with the baseline (the model in production) and
with its parent (the evaluation of the phase it was trained from, `fmops gate --parent`): alignment that costs
a skill is caught on the first run too, before anything is in production.

A regression blocks when the worsening exceeds both `max_regression` and
`stderr_factor` x sqrt(se_candidate^2 + se_baseline^2): a change the evaluation's own noise explains is not a
regression. A missing stderr on either side, or stderr_factor 0, leaves the tolerance alone.

The gate fails closed on numbers it cannot trust: a rule whose metric has a NaN or infinite value or stderr,
a negative stderr, or a stderr above half the metric's scale (see `untrusted`) fails, whatever the comparison
would have said. lm-eval does emit NaN, and NaN compares False both ways, so unchecked it would pass a rule.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from pydantic import Field, ValidationError, ValidationInfo, field_validator

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
    max: dict[str, FiniteFloat] = Field(default_factory=dict, description="task/metric -> highest value to promote")
    max_regression: dict[str, FiniteFloat] = Field(
        default_factory=dict, description="task/metric -> largest allowed worsening against the baseline or parent"
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

    @field_validator("min", "max", "max_regression")
    @classmethod
    def _metric_names(cls, rules: dict[str, float]) -> dict[str, float]:
        for key, value in rules.items():
            task, _, metric = key.partition("/")
            if not task or not metric:
                raise ValueError(f"'{key}' is not a metric name of the form task/metric")
            if value < 0:
                raise ValueError(f"'{key}': {value} is negative")
        return rules

    @field_validator("max")
    @classmethod
    def _above_floors(cls, ceilings: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        floors = info.data.get("min") or {}
        for key, ceiling in ceilings.items():
            if key in floors and floors[key] > ceiling:
                raise ValueError(f"'{key}': {ceiling} is below its min {floors[key]}, so no value can pass")
        return ceilings

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
    against: str = ""
    """What a regression rule compared with: `baseline` or `parent` ('' for the other rules)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_bounds(flag: str, texts: list[str]) -> dict[str, float]:
    """`--min task/metric=value` (or `--max`) flags -> bounds."""
    bounds: dict[str, float] = {}
    for text in texts:
        key, sep, raw = text.partition("=")
        try:
            bounds[key.strip()] = float(raw)
        except ValueError:
            sep = ""
        if not sep or "/" not in key:
            raise InputError(f"{flag} {text}: expected task/metric=value, e.g. demo_addition/exact_match=0.5")
    return bounds


def parse_min(texts: list[str]) -> dict[str, float]:
    """`--min task/metric=value` flags -> floors."""
    return parse_bounds("--min", texts)


def load(name_or_uri: str, floors: list[str], ceilings: list[str] = ()) -> Rules:
    """The packaged rules `name_or_uri` (or a YAML file URI), with --min floors and --max ceilings added on top."""
    rules = config.load(Rules, "gate", name_or_uri) if name_or_uri else Rules()
    for flag, field, texts in (("--min", "min", floors), ("--max", "max", list(ceilings))):
        try:
            rules = Rules(**{**rules.model_dump(), field: {**getattr(rules, field), **parse_bounds(flag, texts)}})
        except ValidationError as error:
            raise InputError(f"{flag}: {error.errors()[0]['msg']}") from None
    if not (rules.min or rules.max or rules.max_regression or rules.max_forgetting is not None):
        raise InputError("no rules: give --rules NAME|FILE or --min task/metric=value")
    return rules


def recorded_direction(metric: str, *evaluations: Results | None) -> bool | None:
    """The metric's direction as the evaluations record it (lm-eval's `higher_is_better` for its task), or None
    when none does (an older evaluation, a metric none has). Evaluations that disagree cannot be compared."""
    found = {results.uri: results.higher_is_better(metric) for results in evaluations if results is not None}
    known = {uri: value for uri, value in found.items() if value is not None}
    if len(set(known.values())) > 1:
        said = ", ".join(f"{uri}: {value}" for uri, value in known.items())
        raise InputError(f"{metric}: the evaluations disagree on higher_is_better ({said}); re-evaluate them alike")
    return next(iter(known.values()), None)


def higher_is_better(metric: str, *evaluations: Results | None) -> bool:
    """The recorded direction; higher is better when none is recorded (lm-eval's own default)."""
    recorded = recorded_direction(metric, *evaluations)
    return True if recorded is None else recorded


def require_directions(rules: Rules, *evaluations: Results | None) -> None:
    """A floor guards a metric only where higher is better, a ceiling only where lower is better (as recorded:
    a bound on a metric the evaluations lack fails as missing instead)."""
    for bound, wanted, instead in (("min", True, "max"), ("max", False, "min")):
        for metric in sorted(getattr(rules, bound)):
            recorded = recorded_direction(metric, *evaluations)
            if recorded is not None and recorded != wanted:
                direction = "lower" if wanted else "higher"
                raise InputError(
                    f"{bound} {metric}: {direction} is better (its task's higher_is_better), so a "
                    f"{'floor' if wanted else 'ceiling'} does not guard it; bound it with {instead}: instead"
                )


def _missing(rule: str, metric: str, threshold: float, base: float | None, against: str = "") -> Check:
    reason = f"{metric} is missing from the candidate"
    return Check(rule, metric, threshold, None, base, False, reason, f"{metric} missing", against)


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
    rule: str, metric: str, threshold: float, value: float | None, base: float | None, why: str, against: str = ""
) -> Check:
    reason = f"{metric}: {why}; the rule cannot hold on numbers that cannot be trusted"
    return Check(rule, metric, threshold, value, base, False, reason, f"{metric} {why}", against)


def _bound(rule: str, metric: str, bound: float, candidate: Results) -> Check:
    """`min` (value >= bound) or `max` (value <= bound)."""
    value = candidate.value(metric)
    if value is None:
        return _missing(rule, metric, bound, None)
    why = untrusted(candidate, metric, "candidate")
    if why:
        return _untrusted_check(rule, metric, bound, value, None, why)
    if rule == "min":
        passed, name, verdict = value >= bound, "floor", (">=" if value >= bound else "<")
    else:
        passed, name, verdict = value <= bound, "ceiling", ("<=" if value <= bound else ">")
    reason = f"{metric} {value:.4f} {verdict} {name} {bound}"
    return Check(rule, metric, bound, value, None, passed, reason, f"{metric} {value:.4f} {verdict} {bound}")


def noise_band(
    metric: str, factor: float, candidate: Results, baseline: Results, against: str = "baseline"
) -> tuple[float | None, str]:
    """(factor x the standard error of the difference, its wording), or (None, why the tolerance stands alone)."""
    if factor == 0:
        return None, "stderr_factor 0: the tolerance alone applies"
    errors = {"candidate": candidate.stderr(metric), against: baseline.stderr(metric)}
    lacking = [side for side, error in errors.items() if error is None]
    if lacking:
        return None, f"no stderr for the {' and the '.join(lacking)}: the tolerance alone applies"
    se = math.hypot(errors["candidate"], errors[against])
    return factor * se, f"{factor:g} x se {se:.4f} = {factor * se:.4f}"


def _regression(
    metric: str, tolerance: float, factor: float, candidate: Results, baseline: Results, against: str = "baseline"
) -> Check:
    """The candidate against `baseline` (the `against` evaluation: the baseline or the parent)."""
    value, base = candidate.value(metric), baseline.value(metric)
    if value is None:
        return _missing("max_regression", metric, tolerance, base, against)
    if base is None:
        reason = f"{metric}: the {against} has no value, nothing to regress from"
        return Check("max_regression", metric, tolerance, value, None, True, reason, "", against)
    why = untrusted(candidate, metric, "candidate") or untrusted(baseline, metric, against)
    if why:
        return _untrusted_check("max_regression", metric, tolerance, value, base, why, against)
    higher = higher_is_better(metric, candidate, baseline)
    worse, word = (base - value, "drop") if higher else (value - base, "rise")
    band, band_text = noise_band(metric, factor, candidate, baseline, against)
    beyond_tolerance = worse > tolerance + SLACK
    beyond_noise = band is None or worse > band + SLACK
    passed = not (beyond_tolerance and beyond_noise)
    if not beyond_tolerance:
        verdict = f"within tolerance {tolerance} ({band_text})"
    elif band is None:
        verdict = f"beyond tolerance {tolerance} ({band_text})"
    else:
        verdict = f"beyond tolerance {tolerance} and {'beyond' if beyond_noise else 'within'} {band_text}"
    reason = f"{metric} {value:.4f} vs {against} {base:.4f}: {word} {worse:.4f} {verdict}"
    brief = f"{metric} {word} {worse:.4f}{'' if against == 'baseline' else ' vs ' + against} > {tolerance}"
    brief += f" and > {factor:g} se {band:.4f}" if band is not None else ""
    return Check("max_regression", metric, tolerance, value, base, passed, reason, brief, against)


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


def decide(rules: Rules, candidate: Results, baseline: Results | None, parent: Results | None = None) -> list[Check]:
    """Every evaluation rule applied to the candidate, and the regression rules against the baseline and the
    parent, those given."""
    checks = [_bound("min", metric, floor, candidate) for metric, floor in sorted(rules.min.items())]
    checks += [_bound("max", metric, ceiling, candidate) for metric, ceiling in sorted(rules.max.items())]
    factor = rules.stderr_factor
    for other, against in ((baseline, "baseline"), (parent, "parent")):
        if other is not None:
            checks += [
                _regression(metric, tolerance, factor, candidate, other, against)
                for metric, tolerance in sorted(rules.max_regression.items())
            ]
    return checks


def summary(promote: bool, checks: list[Check]) -> str:
    """One line: `promote: 5 rules hold`, or `blocked: ` and what failed."""
    if promote:
        return "promote: 1 rule holds" if len(checks) == 1 else f"promote: {len(checks)} rules hold"
    return "blocked: " + "; ".join(check.brief for check in checks if not check.passed)
