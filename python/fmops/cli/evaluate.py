"""Evaluate a model directory or an OpenAI-compatible endpoint with lm-evaluation-harness.

    fmops evaluate --model runs/sft --tasks demo --output runs/eval-sft --baseline runs/eval-pretrain
    fmops evaluate --endpoint http://127.0.0.1:8000 --tasks demo_addition --output runs/eval-served

Tasks: `demo` (demo_addition, demo_choice, demo_preference: python/fmops/evaluation/lm_eval_tasks/), any
project task name, or a standard lm-eval task name (hellaswag, arc_easy, gsm8k: the harness downloads its
dataset). The demo tasks read python/fmops/data/demo/eval/*.jsonl, or the same file names under --task-data DIR.
Against an endpoint, generation runs through /v1/chat/completions (the server applies the chat template);
log-likelihood tasks need /v1/completions with echo+logprobs, which vLLM has and `transformers serve` lacks.
The endpoint's API key is read from $OPENAI_API_KEY; an unreachable endpoint is retried (max_retries), then
refused. --limit N evaluates at most N documents per task ('' = all). Settings: fmops.evaluation.evaluate's
EvaluateConfig.

Output (--output URI): metrics.json, samples.jsonl (one line per document), report.md + chart.png (candidate
against --baseline), manifest.json last. --results-dir DIR gets metrics.json, report.md, chart.png.

metrics.json: {task: {metric: {"value": float, "stderr": float|null, "samples": int}}}. Metric names are
lm-eval's, without the `,none` filter suffix: demo_addition/exact_match, demo_choice/acc,
demo_preference/acc (rules and reports name them `task/metric`).
"""

from __future__ import annotations

import argparse
import os

from fmops.cli import options
from fmops.core.errors import InputError
from fmops.evaluation.evaluate import EvaluateConfig, Inputs, evaluate


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def int_flag(name: str, text: str) -> int | None:
    """'' (what templates pass for unset) -> None, else the integer."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{name} {text}: expected an integer") from None


def run(args: argparse.Namespace) -> int:
    cfg = options.load_config(EvaluateConfig, "evaluate", args, tasks=args.tasks or None,
                              limit=int_flag("--limit", args.limit),
                              batch_size=int_flag("--batch-size", args.batch_size))  # fmt: skip
    inputs = Inputs(model=args.model, endpoint=args.endpoint, model_name=args.model_name,
                    api_key=os.environ.get("OPENAI_API_KEY", ""), task_data=args.task_data, baseline=args.baseline,
                    output=args.output, results_dir=args.results_dir)  # fmt: skip
    evaluate(cfg, inputs)
    print(f"fmops evaluate: wrote {args.output}")
    return 0
