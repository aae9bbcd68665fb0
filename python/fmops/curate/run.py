"""`fmops curate`: check the inputs, run the datatrove stages, write metrics.json and manifest.json last.

A run is one call (`phase="all"`) or, on Argo, a fan-out: `plan` once (checks the inputs, fixes the file list
and the number of shard groups in work/plan.json), `filter --rank r` once per group, `join` once (dedup
across every group and the history, write the documents, the metrics and the manifest). `record_history`
adds a finished run's signatures to the history (the continuous cycle does it once its gate promotes).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from fmops.core import manifest, storage
from fmops.core.errors import InputError
from fmops.curate import decontaminate, history, shards
from fmops.curate.config import CurateConfig
from fmops.curate.metrics import collect

STAGE = "curate"
PHASES = ("all", "plan", "filter", "join")
PLAN = "plan.json"


@dataclass(frozen=True)
class Request:
    data: list[str]
    output: str
    config: CurateConfig
    history: str = ""
    decontaminate: tuple[str, ...] = ()
    record_history: bool = False
    phase: str = "all"
    rank: int | None = None
    results_dir: str = ""


def workers(config: CurateConfig) -> int:
    return config.workers or len(os.sched_getaffinity(0))


def plan_uri(output: str) -> str:
    return storage.join(output, "work", PLAN)


def make_plan(request: Request) -> dict[str, Any]:
    files = shards.expand(request.data)
    tasks = shards.groups(files, request.config.shard_groups)
    plan = {"files": files, "tasks": tasks, "config": request.config.model_dump()}
    storage.write_json(plan_uri(request.output), plan)
    if request.results_dir:
        storage.write_parameters(request.results_dir, {"groups": str(list(range(tasks))), "tasks": str(tasks)})
    return plan


def read_plan(request: Request) -> dict[str, Any]:
    plan = storage.read_json_record(plan_uri(request.output), "curate plan", "files", list)
    if plan is None:
        raise InputError(f"{plan_uri(request.output)}: no plan; run `fmops curate --phase plan` first")
    if plan["config"] != request.config.model_dump():
        raise InputError(f"{plan_uri(request.output)}: planned with other settings than this run's --config/--set")
    return plan


def eval_index(request: Request) -> decontaminate.EvalIndex | None:
    if not request.config.decontaminate:
        return None
    files = decontaminate.task_files(request.decontaminate)
    return decontaminate.build_index(
        files, request.config.decontaminate_ngrams, request.config.decontaminate_min_tokens
    )


def curate(request: Request) -> dict[str, Any] | None:
    """Run the requested phase; returns the metrics once the run is complete (None for plan and filter)."""
    if request.phase not in PHASES:
        raise InputError(f"--phase {request.phase}: expected one of {', '.join(PHASES)}")
    has_history = history.check(request.history, request.config)
    complete = storage.exists(storage.join(request.output, manifest.MANIFEST))
    if complete and request.phase in ("all", "join"):
        if request.record_history:
            record(request)
        return None
    if request.phase in ("all", "plan"):
        plan = make_plan(request)
        if request.phase == "plan":
            return None
    else:
        plan = read_plan(request)
    files, tasks = plan["files"], plan["tasks"]
    if request.phase == "filter" and (request.rank is None or not 0 <= request.rank < tasks):
        raise InputError(f"--rank {request.rank}: expected a shard group from 0 to {tasks - 1}")
    mine = files if request.phase != "filter" else files[request.rank :: tasks]
    if request.phase != "join":
        for uri in mine:
            shards.check(uri)
    index = eval_index(request)
    return run_stages(request, files, tasks, index, has_history)


def run_stages(request, files, tasks, index, has_history) -> dict[str, Any] | None:
    from fmops.curate import pipeline  # datatrove: imported only once the inputs are known good

    work, cores, started = pipeline.Work(request.output), workers(request.config), manifest.now()
    clock = time.perf_counter()
    if request.phase in ("all", "filter"):
        pipeline.filter_executor(files, request.config, index, work, tasks, cores, request.rank).run()
        if request.phase == "filter":
            return None
    for executor in pipeline.dedup_executors(request.config, work, request.history if has_history else None, cores):
        executor.run()
    pipeline.keep_executor(request.config, work, tasks, cores).run()
    metrics = collect(work, files, request.config, history.cycles(request.history) if has_history else [])
    metrics["seconds"] = round(time.perf_counter() - clock, 3)
    finish(request, files, metrics, started)
    if request.record_history:
        record(request)
    return metrics


def finish(request: Request, files: list[str], metrics: dict[str, Any], started: str) -> None:
    manifest.write_metrics(request.output, metrics, request.results_dir or None)
    if request.results_dir:
        summary = removal_summary(metrics)
        storage.write_parameters(request.results_dir, {"summary": summary, "documents": str(metrics["documents_kept"])})
    manifest.write(
        request.output,
        stage=STAGE,
        inputs=manifest.describe_inputs({"data": files, "history": request.history}),
        config=request.config.model_dump(),
        metrics=metrics,
        started_at=started,
    )


def removal_summary(metrics: dict[str, Any]) -> str:
    """One line: how many documents were kept, and how many each block removed."""
    removed = ", ".join(f"{count} {why}" for why, count in metrics["removed"].items() if count) or "none"
    return (
        f"kept {metrics['documents_kept']} of {metrics['documents_read']} documents; removed: {removed}; "
        f"{metrics['documents_redacted']} redacted"
    )


def record(request: Request) -> dict[str, Any]:
    """Add a complete run's MinHash signatures to the history."""
    if not request.history:
        raise InputError("--record-history: needs --history")
    if not storage.exists(storage.join(request.output, manifest.MANIFEST)):
        raise InputError(f"{request.output}: incomplete curate output (no {manifest.MANIFEST}); nothing to record")
    if not request.config.near_dedup:
        raise InputError("--record-history: near_dedup is off, so the run made no signatures to record")
    from fmops.curate import pipeline

    return history.record(
        request.history,
        request.output,
        request.config,
        pipeline.Work(request.output).signatures,
        workers(request.config),
    )
