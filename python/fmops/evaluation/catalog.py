"""The project's own lm-eval tasks (python/fmops/evaluation/lm_eval_tasks/*.yaml), and lm-eval's own tasks
that run on a staged copy of their data (python/fmops/evaluation/staged_tasks.yaml), as plain data.

`fmops evaluate` resolves task names and checks task data before it builds the harness's TaskManager and
loads a model, so this module reads the task files with lm-eval's own YAML reader, the one TaskManager
uses: `include:` merged with local keys winning, `!function` references kept as text (nothing of the
tasks' code runs here). A task is a file with a `task:` key, files without one are templates pulled in by
`include:`, and `tag:` names a set of tasks (`demo`). Importing the reader costs about one second (lm-eval
and `datasets`, no torch), paid once, before any model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from fmops.core.errors import InputError

TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "float": (int, float),
    "list": list,
    "dict": dict,
}


@dataclass(frozen=True)
class ProjectTask:
    """One project task: its YAML file, the data file it reads, and the fields every line must have."""

    name: str
    yaml_path: Path
    output_type: str
    data_file: str | None
    split: str = "test"
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class StagedTask:
    """One of lm-eval's own tasks, run on staged JSONL files (see staged_tasks.yaml for the fields)."""

    name: str
    yaml_path: Path
    """The file that declares it (staged_tasks.yaml): where a message about its fields points."""
    folder: str
    dataset: dict[str, str]
    files: dict[str, str]
    fields: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


def staged_path() -> Path:
    return Path(str(resources.files("fmops.evaluation") / "staged_tasks.yaml"))


def staged_tasks(path: Path | None = None) -> dict[str, StagedTask]:
    """name -> StagedTask for every task of staged_tasks.yaml."""
    path = path or staged_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise InputError(f"{path}: {error}") from None
    found: dict[str, StagedTask] = {}
    for name, entry in data.items():
        missing = [key for key in ("folder", "dataset", "files") if key not in (entry or {})]
        if missing:
            raise InputError(f"{path}: field '{name}.{missing[0]}': missing")
        found[name] = StagedTask(
            name=name,
            yaml_path=path,
            folder=entry["folder"],
            dataset=dict(entry["dataset"]),
            files=dict(entry["files"]),
            fields=dict(entry.get("fields") or {}),
            tags=tuple(entry.get("tags") or ()),
        )
    return found


def tasks_dir() -> Path:
    """The package's task folder: what the harness's TaskManager is built on (without its default index)."""
    return Path(str(resources.files("fmops.evaluation") / "lm_eval_tasks"))


def _load(path: Path) -> dict[str, Any]:
    # The reader lm-eval's TaskManager itself uses (include: merged, !function kept as text). It lives in an
    # underscore module in 0.4.x; pyproject pins lm-eval below 0.5, and tests/unit/evaluation/test_tasks.py
    # fails if a release moves it.
    from lm_eval.tasks._yaml_loader import load_yaml

    try:
        return load_yaml(path, resolve_func=False)
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise InputError(f"{path}: {error}") from None


def _as_task(path: Path, config: dict[str, Any]) -> ProjectTask:
    dataset_kwargs = dict(config.get("dataset_kwargs") or {})
    files = dataset_kwargs.get("data_files") or {}
    split = config.get("test_split") or config.get("validation_split") or "test"
    data_file = files.get(split) if isinstance(files, dict) else None
    tags = config.get("tag") or []
    return ProjectTask(
        name=config["task"],
        yaml_path=path,
        output_type=config.get("output_type", "generate_until"),
        data_file=data_file,
        split=split,
        dataset_kwargs=dataset_kwargs,
        fields=dict((config.get("metadata") or {}).get("fields") or {}),
        tags=tuple(tags if isinstance(tags, list) else [tags]),
    )


def project_tasks(folder: Path | None = None) -> dict[str, ProjectTask]:
    """name -> ProjectTask for every task YAML in the folder."""
    found: dict[str, ProjectTask] = {}
    for path in sorted((folder or tasks_dir()).glob("*.yaml")):
        config = _load(path)
        if "task" in config:
            found[config["task"]] = _as_task(path, config)
    return found


def tags(tasks: dict[str, ProjectTask] | dict[str, StagedTask]) -> dict[str, list[str]]:
    """tag -> task names, e.g. {"demo": ["demo_addition", "demo_choice", "demo_preference"]}."""
    by_tag: dict[str, list[str]] = {}
    for task in tasks.values():
        for tag in task.tags:
            by_tag.setdefault(tag, []).append(task.name)
    return by_tag


def split_names(
    text: str, tasks: dict[str, ProjectTask], staged: dict[str, StagedTask] | None = None
) -> tuple[list[str], list[str]]:
    """Comma-separated names -> (project task names with tags expanded, other names for the harness index:
    staged tasks, by name or by their tag, and lm-eval's own names)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise InputError("--tasks: no task named")
    by_tag, staged_by_tag = tags(tasks), tags(staged or {})
    project: list[str] = []
    standard: list[str] = []
    for name in names:
        expanded = by_tag.get(name, [name] if name in tasks else [])
        others = staged_by_tag.get(name, [] if expanded else [name])
        project.extend(task for task in expanded if task not in project)
        standard.extend(task for task in others if task not in standard)
    return project, standard
