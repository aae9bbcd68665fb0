"""Decide whether a candidate model may be promoted, from its evaluation and its baseline's.

    fmops gate --candidate runs/eval-dpo --baseline registry/models/tiny/production --rules demo \\
        --results-dir /tmp/fmops/results
    fmops gate --candidate runs/eval-dpo --min demo_addition/exact_match=0.5
    fmops gate --candidate runs/cpt-1/eval --baseline registry/models/demo/latest --training runs/cpt-1/pretrain \\
        --rules continuous --results-dir /tmp/fmops/results

--candidate: an `fmops evaluate` output. --baseline: an evaluate output or a registry version/pointer
(its evaluation/ folder); '' or a pointer that does not exist yet: no regression rules apply, and the
reasons say so. --rules: a packaged rules name (python/fmops/recipes/gate/demo.yaml) or a YAML file URI;
--min task/metric=value adds floors. --training: the candidate's `fmops pretrain` output, whose
`forgetting` (replay loss at the end minus at the start) the rules' max_forgetting limits; rules with
max_forgetting need it, and a run without replay data (forgetting null) is blocked by it. Promote only when
every rule holds.

A regression blocks only when the drop exceeds both the rule's tolerance and stderr_factor (default 2)
standard errors of the difference (python/fmops/evaluation/rules.py). Candidate and baseline must have been
evaluated the same way for every task a regression rule names (lm-eval task version, few-shot count, limit,
apply_chat_template, backend: their settings.json); otherwise, or for a baseline from an older fmops without
settings.json, the gate refuses (exit 2) rather than compare.

Results (--results-dir DIR, and --output URI when given): `promote` (exactly `true` or `false`, no newline:
the pipeline's deploy step is conditioned on it), `summary` (one line, no newline: `promote: 5 rules hold` or
`blocked: forgetting 0.91 > 0.30; demo_choice/acc drop 0.1000 > 0.06 and > 2 se 0.0566`, for notifications),
gate.json, reasons.md, metrics.json ({"promote": 0|1, "rules": n, "failed": n}). Exit 0 for either decision,
2 for bad input.
"""

from __future__ import annotations

import argparse
import sys

from fmops.evaluation import rules
from fmops.evaluation.gate import Inputs, gate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidate", required=True, help="the candidate's `fmops evaluate` output")
    parser.add_argument("--baseline", default="", help="evaluate output or registry version/pointer; '' = none")
    parser.add_argument("--training", default="", help="the candidate's fmops pretrain output (for max_forgetting)")
    parser.add_argument("--rules", default="", help="packaged rules name (demo) or YAML file URI")
    parser.add_argument("--min", dest="floors", action="append", default=[], metavar="TASK/METRIC=VALUE")
    parser.add_argument("--output", default="", help="optional URI for the decision and its manifest")
    parser.add_argument("--results-dir", default="", help="local dir for promote, summary, gate.json, reasons.md")


def run(args: argparse.Namespace) -> int:
    ruleset = rules.load(args.rules, args.floors)
    inputs = Inputs(candidate=args.candidate, baseline=args.baseline, training=args.training, output=args.output,
                    results_dir=args.results_dir)  # fmt: skip
    decision = gate(ruleset, inputs)
    print(decision.files["reasons.md"], file=sys.stderr)
    print(f"promote={decision.files['promote']}")
    return 0
