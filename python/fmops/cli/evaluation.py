"""`fmops evaluate` and `fmops gate`: lm-evaluation-harness on a model or endpoint, and the promotion decision."""

from __future__ import annotations

import argparse
import os
import sys

from fmops.cli import options
from fmops.cli.command import Command
from fmops.evaluation import evaluate as evaluation
from fmops.evaluation import gate as gating
from fmops.evaluation import rules
from fmops.evaluation.config import EvaluateConfig

EVALUATE = """Evaluate a model directory or an OpenAI-compatible endpoint with lm-evaluation-harness.

    fmops evaluate --model runs/sft --tasks demo --output runs/eval-sft --baseline runs/eval-pretrain
    fmops evaluate --endpoint http://127.0.0.1:8000 --tasks demo_addition --output runs/eval-served

Tasks: `demo`, a project task, or a standard lm-eval task. The endpoint's key is read from $OPENAI_API_KEY.
Writes metrics.json ({task: {metric: {value, stderr, samples}}}), settings.json, samples.jsonl, report.md,
chart.png and manifest.json last. Settings: fmops.evaluation.config.EvaluateConfig.
Manual: python/fmops/evaluation/README.md
"""

GATE = """Decide whether a candidate model may be promoted, from its evaluation and its baseline's.

    fmops gate --candidate runs/eval-dpo --baseline registry/models/tiny/production --parent runs/eval-sft \\
        --rules demo --results-dir /tmp/fmops/results
    fmops gate --candidate runs/eval-dpo --min demo_addition/exact_match=0.5 --max safety_overrefusal/refusal_rate=0.1

Writes `promote` (true or false), `summary` (one line), gate.json, reasons.md (with the safety table) and
metrics.json.
Exit 0 for either decision, 2 for bad input (also for evaluations made differently, which are not compared).
Manual: python/fmops/evaluation/README.md
"""


def evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="", help="model directory URI, registry pointer, or a hub id")
    parser.add_argument("--endpoint", default="", help="OpenAI-compatible base URL instead of --model")
    parser.add_argument("--model-name", default="", help="model name at the endpoint (default: its first model)")
    parser.add_argument("--tasks", default="", help="comma-separated tasks (default: demo)")
    parser.add_argument("--task-data", default="", help="folder with the project tasks' JSONL files")
    parser.add_argument("--baseline", default="", help="evaluate output, or registry version/pointer")
    parser.add_argument("--output", required=True, help="output URI")
    parser.add_argument("--results-dir", default="", help="local dir for metrics.json, report.md, chart.png")
    parser.add_argument("--limit", default="", help="at most N documents per task (the pipeline's size knob)")
    parser.add_argument("--batch-size", default="", help="in-process batch size")
    options.add_config_arguments(parser)


def evaluate(args: argparse.Namespace) -> int:
    limit = options.optional_number("--limit", args.limit, int)
    batch_size = options.optional_number("--batch-size", args.batch_size, int)
    config = options.load_config(
        EvaluateConfig, "evaluate", args, tasks=args.tasks or None, limit=limit, batch_size=batch_size
    )
    inputs = evaluation.Inputs(
        model=args.model,
        endpoint=args.endpoint,
        model_name=args.model_name,
        api_key=os.environ.get("OPENAI_API_KEY", ""),
        task_data=args.task_data,
        baseline=args.baseline,
        output=args.output,
        results_dir=args.results_dir,
    )
    evaluation.evaluate(config, inputs)
    print(f"fmops evaluate: wrote {args.output}")
    return 0


def gate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidate", required=True, help="the candidate's `fmops evaluate` output")
    parser.add_argument("--baseline", default="", help="evaluate output or registry version/pointer; '' = none")
    parser.add_argument("--parent", default="", help="evaluate output of the model the candidate was trained from")
    parser.add_argument("--training", default="", help="the candidate's fmops pretrain output (for max_forgetting)")
    parser.add_argument("--rules", default="", help="packaged rules name (demo) or YAML file URI")
    parser.add_argument("--min", dest="floors", action="append", default=[], metavar="TASK/METRIC=VALUE")
    parser.add_argument("--max", dest="ceilings", action="append", default=[], metavar="TASK/METRIC=VALUE")
    parser.add_argument("--output", default="", help="optional URI for the decision and its manifest")
    parser.add_argument("--results-dir", default="", help="local dir for promote, summary, gate.json, reasons.md")


def gate(args: argparse.Namespace) -> int:
    ruleset = rules.load(args.rules, args.floors, args.ceilings)
    inputs = gating.Inputs(
        candidate=args.candidate,
        baseline=args.baseline,
        parent=args.parent,
        training=args.training,
        output=args.output,
        results_dir=args.results_dir,
    )
    decision = gating.gate(ruleset, inputs)
    print(decision.files["reasons.md"], file=sys.stderr)
    print(f"promote={decision.files['promote']}")
    return 0


COMMANDS = {
    "evaluate": Command(EVALUATE, evaluate_arguments, evaluate),
    "gate": Command(GATE, gate_arguments, gate),
}
