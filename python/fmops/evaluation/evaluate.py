"""Evaluate a model directory or an OpenAI-compatible endpoint with lm-evaluation-harness.

Besides metrics.json, an output holds settings.json: what two evaluations must share to be compared (the
gate refuses a pair that differs, fmops.evaluation.baseline.require_comparable):

    {"backend": "hf" | "vllm" | "endpoint", "limit": int | null, "apply_chat_template": bool,
     "tasks": {task: {"version": lm-eval's task version, "n-shot": few-shot examples actually used,
                      "tags": the task's fmops tags (the gate's safety table reads them)}}}

The manifest's config records the backend that ran (auto resolved to hf or vllm).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fmops.core import manifest, registry, storage
from fmops.core.errors import InputError
from fmops.evaluation import baseline, catalog, endpoint, harness, report, samples, taskdata
from fmops.evaluation.config import EvaluateConfig


@dataclass(frozen=True, kw_only=True)
class Inputs:
    """What to evaluate (exactly one of model and endpoint), on which data, against what, and where to write."""

    model: str = ""
    """Model directory URI, registry pointer, or a hub id."""
    endpoint: str = ""
    """OpenAI-compatible base URL instead of a model."""
    model_name: str = ""
    """Model name at the endpoint ('' = its first model)."""
    api_key: str = ""
    """The endpoint's bearer key."""
    task_data: str = ""
    """Folder with the project tasks' JSONL files ('' = the shipped demo eval folder)."""
    baseline: str = ""
    """Evaluate output, or registry version/pointer, to compare against in the report."""
    output: str = ""
    """Output URI; '' writes nothing (the metrics are only returned)."""
    results_dir: str = ""
    """Local folder for metrics.json, report.md, chart.png."""


def _target(inputs: Inputs, cfg: EvaluateConfig) -> tuple[str | None, endpoint.Endpoint | None]:
    if bool(inputs.model) == bool(inputs.endpoint):
        raise InputError("give exactly one of --model and --endpoint")
    if inputs.model:
        return manifest.require_complete_model(registry.resolve(inputs.model)), None
    return None, endpoint.connect(inputs.endpoint, inputs.model_name, cfg.max_retries, api_key=inputs.api_key)


def _task_data(uri: str) -> contextlib.AbstractContextManager[Path]:
    uri = uri or taskdata.default_dir()
    if not storage.exists(uri):
        raise InputError(f"{uri}: task data folder does not exist")
    return storage.local_copy(uri)


def evaluate(cfg: EvaluateConfig, inputs: Inputs) -> harness.Outcome:
    """Check every input (tasks, task data, endpoint capabilities) before the harness runs, run it, and write
    the outputs when `inputs.output` is given. Returns per-task metrics and per-sample records."""
    started = manifest.now()
    if inputs.endpoint and cfg.backend != "auto":
        raise InputError(f"backend {cfg.backend}: applies to --model; an --endpoint is evaluated through its API")
    model, served = _target(inputs, cfg)
    backend = harness.choose_backend(cfg.backend, cfg.device) if model else harness.ENDPOINT
    if model and cfg.apply_chat_template:
        harness.require_chat_template(model)
    source = model or f"{served.base_url} ({served.model_name})"
    known, suite = catalog.project_tasks(), catalog.staged_tasks()
    names, standard = catalog.split_names(cfg.tasks, known, suite)
    project = [known[name] for name in names]
    staged = [suite[name] for name in standard if name in suite]
    tags = {task.name: list(task.tags) for task in [*project, *staged]}
    base, base_note = baseline.load(inputs.baseline)
    with _task_data(inputs.task_data) as folder:
        files = taskdata.data_files(project, folder) if project else {}
        staged_files = taskdata.staged_files(staged, folder) if staged else {}
        if served:
            for task in (t for t in project if t.output_type in harness.LOGLIKELIHOOD_TYPES):
                endpoint.require_tokenizer(served, cfg.tokenizer, task.name)
                endpoint.require_loglikelihood(served, task.name, cfg.max_retries)
        unstaged = [name for name in standard if name not in suite]
        manager = harness.task_manager(bool(unstaged), [task.folder for task in staged])
        harness.check_standard(manager, standard, known)
        tasks = harness.load_tasks(manager, harness.specs(project, files, standard, staged_files))
        scored_elsewhere = [n for n, t in tasks.items() if n not in files and harness.is_loglikelihood(t)]
        for name in scored_elsewhere if served else []:
            endpoint.require_tokenizer(served, cfg.tokenizer, name)
            endpoint.require_loglikelihood(served, name, cfg.max_retries)
        print(f"fmops evaluate: {', '.join(names + standard)} on {source}", file=sys.stderr)
        settings = harness.Settings(**cfg.model_dump(exclude={"tasks", "backend"}), backend=backend)
        with _model_copy(model) as local_model:
            outcome = harness.run(harness.model_runs(tasks, local_model, served, settings), settings, manager)
    timing = {
        "samples": outcome.sample_count,
        "seconds": round(outcome.seconds, 3),
        "samples_per_second": round(outcome.sample_count / max(outcome.seconds, 1e-9), 2),
    }
    print(f"fmops evaluate: {timing['samples']} samples, {timing['samples_per_second']} samples/s", file=sys.stderr)
    if inputs.output or inputs.results_dir:
        write_outputs(inputs, cfg, settings, outcome, timing, base, base_note, source, started, tags)
    return outcome


@contextlib.contextmanager
def _model_copy(model: str | None) -> Iterator[str | None]:
    """A local directory for a remote model (s3://), else the model as given (a path or hub id)."""
    if model and storage.is_remote(model):
        with storage.local_copy(model) as local:
            yield str(local)
    else:
        yield model.removeprefix("file://") if model else None


def comparable_settings(
    settings: harness.Settings, outcome: harness.Outcome, tags: dict[str, list[str]] | None = None
) -> dict:
    """settings.json (see the module docstring)."""
    return {
        "backend": settings.backend,
        "limit": settings.limit,
        "apply_chat_template": settings.apply_chat_template,
        "tasks": {name: {**record, "tags": (tags or {}).get(name, [])} for name, record in outcome.tasks.items()},
    }


def write_outputs(
    inputs: Inputs,
    cfg: EvaluateConfig,
    settings: harness.Settings,
    outcome: harness.Outcome,
    timing: dict,
    base: baseline.Results | None,
    base_note: str,
    source: str,
    started: str,
    tags: dict[str, list[str]] | None = None,
) -> None:
    candidate = baseline.Results(uri=source, metrics=outcome.metrics)
    files = {
        "report.md": report.markdown(candidate, base, base_note, timing).encode(),
        "chart.png": report.chart(candidate, base),
    }
    if inputs.results_dir:
        storage.write_json(str(Path(inputs.results_dir) / manifest.METRICS), outcome.metrics)
        for name, data in files.items():
            storage.atomic_write_bytes(str(Path(inputs.results_dir) / name), data)
    if not inputs.output:
        return
    storage.write_json(storage.join(inputs.output, manifest.METRICS), outcome.metrics)
    storage.atomic_write_text(storage.join(inputs.output, "samples.jsonl"), samples.jsonl(outcome.samples))
    storage.write_json(storage.join(inputs.output, baseline.SETTINGS), comparable_settings(settings, outcome, tags))
    for name, data in files.items():
        storage.atomic_write_bytes(storage.join(inputs.output, name), data)
    task_data = inputs.task_data or taskdata.default_dir()
    described = manifest.describe_inputs({"model": inputs.model, "task_data": task_data})
    described.update(endpoint=inputs.endpoint or None, baseline=base.uri if base else None)
    manifest.write(
        inputs.output,
        stage="evaluate",
        inputs=described,
        config={**cfg.model_dump(), "backend": settings.backend},
        metrics={"tasks": outcome.metrics, **timing},
        started_at=started,
    )
