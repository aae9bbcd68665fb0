"""lm-evaluation-harness wiring: build the TaskManager, load the tasks, pick the harness model, run, collect.

- Tasks: a TaskManager on the package's task folder WITHOUT the harness's default index (scanning its
  thousands of YAML files costs ~13 s on 2 CPU cores), unless a standard task (hellaswag, gsm8k...) is
  asked for; staged tasks (the safety suite) add only their own folders of lm_eval/tasks. Project tasks are
  loaded through a group whose members override `dataset_kwargs`, lm-eval's own way of pointing a task at
  other data files; staged tasks are members of the same group whose dataset is overridden to their JSONL.
- Models: in-process on a model directory, with lm-eval's `vllm` model (`backend: auto` picks it when the
  vllm package is importable and a CUDA GPU is visible; tensor parallel over every visible GPU) or its `hf`
  model (everywhere else: a laptop's CPU, a GPU without vllm); against an endpoint, `local-chat-completions` for
  generation (the server applies the model's chat template, as `hf` does here with apply_chat_template)
  and `local-completions` for log-likelihood (vLLM only: see fmops.evaluation.endpoint).
- Speed: generous batches in-process, concurrent requests against an endpoint, and the tasks' own caps on
  generated tokens (demo_addition: 5).
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmops.core import manifest, storage
from fmops.core.errors import InputError
from fmops.evaluation.catalog import ProjectTask, tasks_dir
from fmops.evaluation.endpoint import Endpoint

LOGLIKELIHOOD_TYPES = {"loglikelihood", "loglikelihood_rolling", "multiple_choice"}
GROUP = "fmops"
ENDPOINT = "endpoint"  # the backend recorded for an evaluation through an OpenAI-compatible API


@dataclass(frozen=True)
class Settings:
    """How to run the harness (the evaluate config's fields the harness reads)."""

    batch_size: int = 64
    limit: int | None = None
    apply_chat_template: bool = True
    num_fewshot: int | None = None
    num_concurrent: int = 8
    max_retries: int = 3
    timeout_s: int = 120
    bootstrap_iters: int = 1000
    device: str | None = None
    cpu_threads: int | None = 1
    backend: str = "hf"
    """hf, vllm or endpoint: resolved by choose_backend, never auto."""
    gpu_memory_utilization: float = 0.9
    tokenizer: str = ""
    """Log-likelihood through an endpoint: the served model's tokenizer directory ('' = the served model id)."""


@dataclass
class Outcome:
    """What one evaluation produced: per-task metrics, per-sample records, and how long it took."""

    metrics: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    configs: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """task -> {"version": lm-eval task version, "n-shot": few-shot examples used}: what makes runs comparable."""
    seconds: float = 0.0

    @property
    def sample_count(self) -> int:
        return sum(len(rows) for rows in self.samples.values())


def task_manager(with_standard_tasks: bool, folders: list[str] | tuple[str, ...] = ()):
    """The harness's task index: the project's folder, plus `folders` of lm_eval/tasks (the staged tasks'), or
    lm-eval's whole default index when a standard task outside them is asked for."""
    import lm_eval.tasks
    from lm_eval.tasks import TaskManager

    standard_root = Path(lm_eval.tasks.__file__).parent
    extra = [] if with_standard_tasks else [str(standard_root / folder) for folder in sorted(set(folders))]
    return TaskManager(include_path=[str(tasks_dir()), *extra], include_defaults=with_standard_tasks)


def check_standard(manager, names: list[str], project: dict[str, ProjectTask]) -> None:
    """Every non-project name must be a task, group or tag of the harness's index."""
    known = set(manager.all_tasks)
    for name in names:
        if name not in known:
            ours = ", ".join(sorted(project))
            raise InputError(f"--tasks: unknown task '{name}' (project tasks: {ours}; or an lm-eval task name)")


def specs(
    project: list[ProjectTask],
    files: dict[str, str],
    standard: list[str],
    staged: dict[str, dict[str, str]] | None = None,
) -> list[Any]:
    """Task specs for TaskManager.load: one group of project tasks pointed at their files and staged tasks
    pointed at theirs (split -> path: the json builder instead of their hub dataset), then the other names."""
    members = [
        {
            "task": task.name,
            "dataset_kwargs": {**task.dataset_kwargs, "data_files": {task.split: files[task.name]}},
        }
        for task in project
    ]
    members += [
        {"task": name, "dataset_path": "json", "dataset_name": None, "dataset_kwargs": {"data_files": splits}}
        for name, splits in (staged or {}).items()
    ]
    others = [name for name in standard if name not in (staged or {})]
    return ([{"group": GROUP, "task": members}] if members else []) + others


def load_tasks(manager, task_specs: list[Any]) -> dict[str, Any]:
    """name -> lm-eval Task (datasets are read here: a malformed file fails before the model loads)."""
    try:
        return manager.load(task_specs)["tasks"]
    except (ValueError, KeyError, FileNotFoundError) as error:
        raise InputError(f"--tasks: could not load tasks ({error})") from None


def require_chat_template(model: str) -> None:
    """A local model evaluated with chat-formatted prompts must carry a chat template (SFT saves one)."""
    if not manifest.looks_like_path(model) or storage.exists(storage.join(model, "chat_template.jinja")):
        return
    tokenizer_config = storage.join(model, "tokenizer_config.json")
    if storage.exists(tokenizer_config) and "chat_template" in storage.read_json(tokenizer_config):
        return
    raise InputError(f"{model}: the tokenizer has no chat template; add one, or --set apply_chat_template=false")


def is_loglikelihood(task) -> bool:
    return task.OUTPUT_TYPE in LOGLIKELIHOOD_TYPES


def cuda_device_count() -> int:
    """CUDA GPUs this process sees (CUDA_VISIBLE_DEVICES applies); 0 without CUDA."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def choose_backend(requested: str, device: str | None) -> str:
    """`auto` -> vllm when the vllm package is importable and CUDA is available (and no non-CUDA --set device
    asks otherwise), else hf; an explicit vllm that cannot run is bad input, refused before any model loads."""
    if requested == "hf":
        return "hf"
    has_vllm = importlib.util.find_spec("vllm") is not None
    if requested == "vllm" and not has_vllm:
        raise InputError("backend vllm: the vllm package is not installed (pip install vllm), or set backend=auto|hf")
    if not has_vllm:
        return "hf"
    gpus = cuda_device_count()
    if requested == "vllm" and gpus == 0:
        raise InputError("backend vllm: no CUDA GPU is visible; set backend=auto|hf to evaluate on the CPU")
    if requested == "auto" and (gpus == 0 or (device is not None and not device.startswith("cuda"))):
        return "hf"
    return "vllm"


def local_model_args(model: str, settings: Settings) -> dict[str, Any]:
    """lm-eval model_args for a model directory, for the chosen in-process backend."""
    if settings.backend == "vllm":
        return {
            "pretrained": model,
            "tensor_parallel_size": cuda_device_count(),
            "dtype": "auto",
            "gpu_memory_utilization": settings.gpu_memory_utilization,
            "batch_size": "auto",  # vLLM schedules its own batches; a fixed size would only cap them
        }
    return {"pretrained": model, "batch_size": settings.batch_size, "device": settings.device or _device()}


def model_runs(tasks: dict[str, Any], model: str | None, endpoint: Endpoint | None, settings: Settings):
    """(harness model name, model_args, tasks) per harness call: one in-process, up to two for an endpoint."""
    if model is not None:
        return [(settings.backend, local_model_args(model, settings), list(tasks.values()))]
    assert endpoint is not None
    common = {
        "model": endpoint.model_name,
        "num_concurrent": settings.num_concurrent,
        "max_retries": settings.max_retries,
        "timeout": settings.timeout_s,
    }
    if endpoint.api_key:  # lm-eval's API models otherwise read $OPENAI_API_KEY; a header given wins
        common["header"] = {"Authorization": f"Bearer {endpoint.api_key}"}
    generate = [task for task in tasks.values() if not is_loglikelihood(task)]
    score = [task for task in tasks.values() if is_loglikelihood(task)]
    runs = []
    if generate and settings.apply_chat_template:
        chat = {**common, "base_url": f"{endpoint.base_url}/chat/completions", "tokenizer_backend": None}
        runs.append(("local-chat-completions", chat, generate))
    elif generate:
        plain = {**common, "base_url": f"{endpoint.base_url}/completions", "tokenized_requests": False}
        runs.append(("local-completions", plain, generate))
    if score:
        # Token ids, not text: the harness tokenizes (and chat-formats) each context and choice with the model's
        # own tokenizer, as in-process, and scores the choice's tokens by position; text would be tokenized
        # again by the server, and a chat-formatted prompt is not text to this API model at all.
        scored = {
            **common,
            "base_url": f"{endpoint.base_url}/completions",
            "tokenized_requests": True,
            "tokenizer_backend": "huggingface",
            "tokenizer": settings.tokenizer or endpoint.model_name,
        }
        runs.append(("local-completions", scored, score))
    return runs


def _direction(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _limit_cpu_threads(model_args: dict[str, Any], threads: int | None) -> None:
    """One torch thread by default on CPU: measured on 2 shared vCPUs, the demo evaluation took 11 s with one
    thread and 53 s with torch's default two, whose spinning OpenMP threads stall on busy cores; the tiny
    model has nothing to gain from more. `--set cpu_threads=N` (or null for torch's default) changes it."""
    if threads and str(model_args.get("device", "")).startswith("cpu"):
        import torch

        torch.set_num_threads(threads)


def run(runs, settings: Settings, manager) -> Outcome:
    """Run the harness once per (model, tasks) and merge what it reports."""
    from lm_eval import simple_evaluate

    outcome = Outcome()
    for model_type, model_args, tasks in runs:
        _limit_cpu_threads(model_args, settings.cpu_threads)
        started = time.perf_counter()
        results = simple_evaluate(
            model=model_type,
            model_args=model_args,
            tasks=tasks,
            task_manager=manager,
            num_fewshot=settings.num_fewshot,
            limit=settings.limit,
            apply_chat_template=settings.apply_chat_template,
            bootstrap_iters=settings.bootstrap_iters,
            log_samples=True,
        )
        outcome.seconds += time.perf_counter() - started
        for task in tasks:
            name = task.task_name
            directions = (results.get("higher_is_better") or {}).get(name) or {}
            outcome.metrics[name] = task_metrics(results["results"][name], results["n-samples"][name], directions)
            outcome.samples[name] = results["samples"][name]
            outcome.configs[name] = results["configs"].get(name, {})
            outcome.tasks[name] = {"version": results["versions"].get(name), "n-shot": results["n-shot"].get(name)}
    return outcome


def task_metrics(
    result: dict[str, Any], counts: dict[str, int], directions: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """lm-eval's `{"acc,none": .., "acc_stderr,none": ..}` -> `{"acc": {"value", "stderr", "samples",
    "higher_is_better"}}`, the direction from lm-eval's `higher_is_better` for the task (None when it has none).

    The filter name is kept only when it is not `none` (gsm8k: `exact_match,strict-match`).
    """
    metrics: dict[str, dict[str, Any]] = {}
    for key, value in result.items():
        metric, sep, filter_name = key.partition(",")
        if not sep or metric.endswith("_stderr") or not isinstance(value, int | float):
            continue
        stderr = result.get(f"{metric}_stderr,{filter_name}")
        name = metric if filter_name == "none" else key
        metrics[name] = {
            "value": float(value),
            "stderr": float(stderr) if isinstance(stderr, int | float) else None,
            "samples": int(counts["effective"]),
            "higher_is_better": _direction((directions or {}).get(metric)),
        }
    return metrics
