"""Task data: where each project task's JSONL file is, and a strict check of every line before lm_eval runs.

`--task-data DIR` (a path, file:// or s3:// URI) replaces the shipped demo eval folder; each task reads the
file its YAML names (`dataset_kwargs.data_files`) inside that folder. The fields a line must carry are the
task's `metadata.fields` (name -> str|int|float|list|dict), so a missing or malformed file is refused in about
a second, naming file, line and field, instead of failing deep inside the harness. lm-eval's own tasks that
run on staged data (catalog.StagedTask: the safety suite) read their files, one per split, from the same folder.
"""

from __future__ import annotations

from pathlib import Path

from fmops.core import storage
from fmops.core.errors import InputError, where
from fmops.data.demo import shipped_dir
from fmops.data.jsonl import iter_records, require
from fmops.evaluation.catalog import TYPES, ProjectTask, StagedTask

STAGING = "stage it as python/fmops/evaluation/README.md says (Safety tasks)"


def default_dir() -> str:
    """The shipped held-out demo sets: python/fmops/data/demo/eval/."""
    return str(shipped_dir() / "eval")


def check_file(task: ProjectTask | StagedTask, uri: str) -> int:
    """Validate every line of one task's data file; returns the number of records."""
    count = 0
    for line, record in iter_records(uri):
        for name, kind in task.fields.items():
            if kind not in TYPES:
                raise InputError(f"{task.yaml_path}: field 'metadata.fields.{name}': unknown type '{kind}'")
            require(record, name, TYPES[kind], uri, line)
        if "choices" in task.fields and "label" in task.fields:
            if not 0 <= record["label"] < len(record["choices"]):
                raise InputError(f"{where(uri, line, 'label')}: {record['label']} is not an index into 'choices'")
        count += 1
    return count


def data_files(tasks: list[ProjectTask], folder: Path) -> dict[str, str]:
    """task name -> absolute data file path inside a local folder, every file checked."""
    if not folder.is_dir():
        raise InputError(f"{folder}: task data folder does not exist")
    files: dict[str, str] = {}
    for task in tasks:
        if not task.data_file:
            raise InputError(f"{task.yaml_path}: field 'dataset_kwargs.data_files': no file for the test split")
        path = (folder / task.data_file).resolve()
        if not storage.exists(str(path)):
            hint = f"; {STAGING}" if "safety" in task.tags else ""
            raise InputError(f"{folder / task.data_file}: task data for {task.name} does not exist{hint}")
        check_file(task, str(path))
        files[task.name] = str(path)
    return files


def staged_files(tasks: list[StagedTask], folder: Path) -> dict[str, dict[str, str]]:
    """task name -> split -> absolute path of its staged JSONL file inside a local folder, every file checked."""
    if not folder.is_dir():
        raise InputError(f"{folder}: task data folder does not exist")
    files: dict[str, dict[str, str]] = {}
    for task in tasks:
        for split, name in sorted(task.files.items()):
            path = (folder / name).resolve()
            if not path.is_relative_to(folder.resolve()):
                raise InputError(f"{task.yaml_path}: field '{task.name}.files.{split}': {name} leaves the folder")
            if not storage.exists(str(path)):
                raise InputError(f"{folder / name}: staged {split} data of {task.name} does not exist; {STAGING}")
            check_file(task, str(path))
            files.setdefault(task.name, {})[split] = str(path)
    return files
