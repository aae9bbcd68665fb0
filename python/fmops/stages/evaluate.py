"""Evaluate a model directory or an OpenAI-compatible endpoint with lm-evaluation-harness.

    fmops evaluate --model runs/sft --tasks demo --output runs/eval-sft --baseline runs/eval-pretrain
    fmops evaluate --endpoint http://127.0.0.1:8000 --tasks demo_addition --output runs/eval-served

Tasks: `demo` (demo_addition, demo_choice, demo_preference: python/fmops/evaluation/lm_eval_tasks/), any project task name,
or a standard lm-eval task name (hellaswag, arc_easy, gsm8k: the harness downloads its dataset). The demo
tasks read python/fmops/data/demo/eval/*.jsonl, or the same file names under --task-data DIR.
Against an endpoint, generation runs through /v1/chat/completions (the server applies the chat template);
log-likelihood tasks need /v1/completions with echo+logprobs, which vLLM has and `transformers serve` lacks.
The endpoint's API key is read from $OPENAI_API_KEY; an unreachable endpoint is retried (max_retries), then
refused. --limit N evaluates at most N documents per task ('' = all). Settings: EvaluateConfig below.

Output (--output URI): metrics.json, samples.jsonl (one line per document), report.md + chart.png (candidate
against --baseline), manifest.json last. --results-dir DIR gets metrics.json, report.md, chart.png.

metrics.json: {task: {metric: {"value": float, "stderr": float|null, "samples": int}}}. Metric names are
lm-eval's, without the `,none` filter suffix: demo_addition/exact_match, demo_choice/acc,
demo_preference/acc (rules and reports name them `task/metric`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from pydantic import Field

from fmops.cli import options
from fmops.core import config, manifest, registry, storage
from fmops.core.errors import InputError
from fmops.evaluation import baseline, catalog, endpoint, harness, report, samples, taskdata


class EvaluateConfig(config.StageConfig):
    """Every setting of `fmops evaluate`; override with --config FILE or --set key=value."""

    tasks: str = Field("demo", description="comma-separated task names or tags (demo = the three demo tasks)")
    limit: int | None = Field(None, description="evaluate at most this many documents per task")
    batch_size: int = Field(64, description="in-process batch size (generous: the tiny model is small)")
    apply_chat_template: bool = Field(True, description="chat-format prompts with the model's template")
    num_fewshot: int | None = Field(None, description="few-shot examples (None: each task's default)")
    num_concurrent: int = Field(8, description="concurrent requests against an endpoint")
    max_retries: int = Field(3, description="retries per endpoint request before giving up")
    timeout_s: int = Field(120, description="seconds per endpoint request")
    bootstrap_iters: int = Field(1000, description="bootstrap resamples for non-mean stderrs")
    device: str | None = Field(None, description="torch device for --model (None: cuda if present)")
    cpu_threads: int | None = Field(1, description="torch threads on CPU (null: torch's default; see harness)")


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


def _int_flag(name: str, text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{name} {text}: expected an integer") from None


def _target(args: argparse.Namespace, cfg: EvaluateConfig) -> tuple[str | None, endpoint.Endpoint | None]:
    if bool(args.model) == bool(args.endpoint):
        raise InputError("give exactly one of --model and --endpoint")
    if args.model:
        return manifest.require_complete_model(registry.resolve(args.model)), None
    return None, endpoint.connect(args.endpoint, args.model_name, cfg.max_retries)


def _task_data(uri: str) -> contextlib.AbstractContextManager[Path]:
    uri = uri or taskdata.default_dir()
    if not storage.exists(uri):
        raise InputError(f"{uri}: task data folder does not exist")
    return storage.local_copy(uri)


def run(args: argparse.Namespace) -> int:
    started = manifest.now()
    cfg = config.load(
        EvaluateConfig, "evaluate", args.config, args.overrides, tasks=args.tasks or None,
        limit=_int_flag("--limit", args.limit), batch_size=_int_flag("--batch-size", args.batch_size),
    )  # fmt: skip
    model, served = _target(args, cfg)
    if model and cfg.apply_chat_template:
        harness.require_chat_template(model)
    source = model or f"{served.base_url} ({served.model_name})"
    known = catalog.project_tasks()
    names, standard = catalog.split_names(cfg.tasks, known)
    project = [known[name] for name in names]
    base, base_note = baseline.load(args.baseline)
    with _task_data(args.task_data) as folder:
        files = taskdata.data_files(project, folder) if project else {}
        if served:
            for task in (t for t in project if t.output_type in harness.LOGLIKELIHOOD_TYPES):
                endpoint.require_loglikelihood(served, task.name, cfg.max_retries)
        manager = harness.task_manager(with_standard_tasks=bool(standard))
        harness.check_standard(manager, standard, known)
        tasks = harness.load_tasks(manager, harness.specs(project, files, standard))
        scored_elsewhere = [n for n, t in tasks.items() if n not in files and harness.is_loglikelihood(t)]
        for name in scored_elsewhere if served else []:
            endpoint.require_loglikelihood(served, name, cfg.max_retries)
        print(f"fmops evaluate: {', '.join(names + standard)} on {source}", file=sys.stderr)
        settings = harness.Settings(**cfg.model_dump(exclude={"tasks"}))
        with _model_copy(model) as local_model:
            outcome = harness.run(harness.model_runs(tasks, local_model, served, settings), settings, manager)
    write_outputs(args, cfg, outcome, base, base_note, source, started)
    return 0


@contextlib.contextmanager
def _model_copy(model: str | None):
    """A local directory for a remote model (s3://), else the model as given (a path or hub id)."""
    if model and storage.is_remote(model):
        with storage.local_copy(model) as local:
            yield str(local)
    else:
        yield model.removeprefix("file://") if model else None


def write_outputs(args, cfg, outcome, base, base_note: str, source: str, started: str) -> None:
    candidate = baseline.Results(uri=source, metrics=outcome.metrics)
    timing = {
        "samples": outcome.sample_count,
        "seconds": round(outcome.seconds, 3),
        "samples_per_second": round(outcome.sample_count / max(outcome.seconds, 1e-9), 2),
    }
    files = {
        "report.md": report.markdown(candidate, base, base_note, timing).encode(),
        "chart.png": report.chart(candidate, base),
    }
    storage.write_json(storage.join(args.output, manifest.METRICS), outcome.metrics)
    storage.atomic_write_text(storage.join(args.output, "samples.jsonl"), samples.jsonl(outcome.samples))
    for name, data in files.items():
        storage.atomic_write_bytes(storage.join(args.output, name), data)
    if args.results_dir:
        storage.write_json(str(Path(args.results_dir) / manifest.METRICS), outcome.metrics)
        for name, data in files.items():
            storage.atomic_write_bytes(str(Path(args.results_dir) / name), data)
    inputs = manifest.describe_inputs({"model": args.model, "task_data": args.task_data or taskdata.default_dir()})
    inputs.update(endpoint=args.endpoint or None, baseline=base.uri if base else None)
    manifest.write(
        args.output, stage="evaluate", inputs=inputs, config=cfg.model_dump(),
        metrics={"tasks": outcome.metrics, **timing}, started_at=started,
    )  # fmt: skip
    print(
        f"fmops evaluate: {timing['samples']} samples, {timing['samples_per_second']} samples/s",
        file=sys.stderr,
    )
    print(f"fmops evaluate: wrote {args.output}")
