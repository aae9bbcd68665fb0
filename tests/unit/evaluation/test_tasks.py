"""The project's task YAMLs: read by the catalog with lm-eval's own reader, loaded by the harness (no model)."""

from __future__ import annotations

import pytest
from fmops.core.errors import InputError
from fmops.evaluation import catalog

RIGHT = "22+13: 2+3=05, 2+1+0=03, so 35"
DEMO_TASKS = {"demo_addition": "exact_match", "demo_choice": "acc", "demo_preference": "acc"}


def test_includes_merge_with_local_keys_winning_and_functions_stay_text(tmp_path):
    (tmp_path / "_base.yaml").write_text("tag: shared\ntest_split: held_out\noutput_type: multiple_choice\n")
    (tmp_path / "mine.yaml").write_text(
        "include: _base.yaml\ntask: mine\noutput_type: generate_until\nprocess_docs: !function utils.docs\n"
        "dataset_kwargs: {data_files: {held_out: mine.jsonl}}\nmetadata: {fields: {question: str}}\n"
    )
    (tasks,) = catalog.project_tasks(tmp_path).values()
    assert (tasks.name, tasks.output_type, tasks.split, tasks.data_file) == (
        "mine",
        "generate_until",
        "held_out",
        "mine.jsonl",
    )
    assert (tasks.tags, tasks.fields) == (("shared",), {"question": "str"})
    assert catalog.split_names("shared,hellaswag", {"mine": tasks}) == (["mine"], ["hellaswag"])


def test_an_include_cycle_is_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("include: b.yaml\ntask: a\n")
    (tmp_path / "b.yaml").write_text("include: a.yaml\n")
    with pytest.raises(InputError, match="a.yaml: Include cycle at .*a.yaml"):
        catalog.project_tasks(tmp_path)


def test_task_yamls_validate_against_shipped_data(demo_dir):
    """Every project task loads through the harness (no default index), renders its first document, and is
    listed in the tasks README with its version: the check CI runs on the task YAMLs."""
    from fmops.evaluation import harness, taskdata

    project = {name: task for name, task in catalog.project_tasks().items() if "demo" in task.tags}
    assert catalog.tags(project) == {"demo": sorted(DEMO_TASKS)}  # the safety tasks: test_safety_tasks.py
    files = taskdata.data_files(list(project.values()), demo_dir / "eval")
    manager = harness.task_manager(with_standard_tasks=False)
    assert "hellaswag" not in manager.all_tasks
    tasks = harness.load_tasks(manager, harness.specs(list(project.values()), files, []))
    assert sorted(tasks) == sorted(DEMO_TASKS)
    rendered = {}
    for name, task in tasks.items():
        doc = task.test_docs()[0]
        choices = task.doc_to_choice(doc) if task.OUTPUT_TYPE == "multiple_choice" else None
        rendered[name] = (task.doc_to_text(doc), task.doc_to_target(doc), choices)
    assert rendered == {
        "demo_addition": ("What is 22+13?", RIGHT, None),
        "demo_choice": ("What is 22+13?", 1, ["22+13: 2+3=05, 2+1+0=04, so 45", RIGHT]),
        "demo_preference": ("What is 22+13?", 0, [RIGHT, "22+13: 2+3=06, 2+1+0=03, so 36"]),
    }
    readme = (catalog.tasks_dir() / "README.md").read_text()
    for name, task in tasks.items():
        assert f"| `{name}` | {task.config.metadata['version']} |" in readme
