"""Decide whether a candidate model may be promoted, from its evaluation and its baseline's.

    fmops gate --candidate runs/eval-dpo --baseline registry/models/tiny/production --rules demo \\
        --results-dir /tmp/fmops/results
    fmops gate --candidate runs/eval-dpo --min demo_addition/exact_match=0.5

--candidate: an `fmops evaluate` output. --baseline: an evaluate output or a registry version/pointer
(its evaluation/ folder); '' or a pointer that does not exist yet: no regression rules apply, and the
reasons say so. --rules: a packaged rules name (python/fmops/recipes/gate/demo.yaml) or a YAML file URI;
--min task/metric=value adds floors. Promote only when every rule holds.

Results (--results-dir DIR, and --output URI when given): `promote` (exactly `true` or `false`, no newline:
the pipeline's deploy step is conditioned on it), gate.json, reasons.md, metrics.json
({"promote": 0|1, "rules": n, "failed": n}). Exit 0 for either decision, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fmops.core import manifest, storage
from fmops.evaluation import baseline, rules
from fmops.evaluation.rules import Check


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidate", required=True, help="the candidate's `fmops evaluate` output")
    parser.add_argument("--baseline", default="", help="evaluate output or registry version/pointer; '' = none")
    parser.add_argument("--rules", default="", help="packaged rules name (demo) or YAML file URI")
    parser.add_argument("--min", dest="floors", action="append", default=[], metavar="TASK/METRIC=VALUE")
    parser.add_argument("--output", default="", help="optional URI for the decision and its manifest")
    parser.add_argument("--results-dir", default="", help="local dir for promote, gate.json, reasons.md")


def reasons(promote: bool, checks: list[Check], candidate: str, base: baseline.Results | None, note: str) -> str:
    """reasons.md: the decision first, then every rule and what it found."""
    lines = [
        f"# Gate: {'promote' if promote else 'blocked'}",
        "",
        f"- candidate: `{candidate}`",
        f"- baseline: `{base.uri}`" if base else f"- {note}; regression rules do not apply",
        "",
    ]
    lines += [f"- {'PASS' if check.passed else 'FAIL'} {check.rule}: {check.reason}" for check in checks]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    started = manifest.now()
    ruleset = rules.load(args.rules, args.floors)
    candidate = baseline.evaluation(args.candidate)
    base, base_note = baseline.load(args.baseline)
    checks = rules.decide(ruleset, candidate, base)
    promote = all(check.passed for check in checks)
    decision: dict[str, Any] = {
        "promote": promote,
        "candidate": candidate.uri,
        "baseline": base.uri if base else None,
        "baseline_note": base_note,
        "rules": ruleset.model_dump(),
        "checks": [check.as_dict() for check in checks],
    }
    metrics = {"promote": int(promote), "rules": len(checks), "failed": sum(not c.passed for c in checks)}
    files = {
        "promote": "true" if promote else "false",
        "gate.json": json.dumps(decision, indent=2, sort_keys=True) + "\n",
        "reasons.md": reasons(promote, checks, candidate.uri, base, base_note),
        manifest.METRICS: json.dumps(metrics, indent=2, sort_keys=True) + "\n",
    }
    for folder in [d for d in (args.results_dir, args.output) if d]:
        for name, text in files.items():
            uri = str(Path(folder) / name) if folder == args.results_dir else storage.join(folder, name)
            storage.atomic_write_text(uri, text)
    if args.output:
        inputs = {"candidate": candidate.uri, "baseline": base.uri if base else None}
        manifest.write(
            args.output,
            stage="gate",
            inputs=inputs,
            config=decision["rules"],
            metrics=metrics,
            started_at=started,
        )
    print(files["reasons.md"], file=sys.stderr)
    print(f"promote={files['promote']}")
    return 0
