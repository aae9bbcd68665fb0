"""A training job never outlives the step that made it: the exit hook of the task that creates a TrainJob
(train-distributed) or a PyTorchJob (train-pytorchjob) deletes every job of this run and stage."""

from __future__ import annotations

import pytest

from tests.infra.workflow_docs import documents, pytorchjobs, spec_of, trainjobs

CASES = [
    ("train-distributed", "trainjobs.trainer.kubeflow.org", trainjobs()),
    ("train-pytorchjob", "pytorchjobs.kubeflow.org", pytorchjobs()),
]


@pytest.mark.parametrize("task_name, plural, jobs", CASES, ids=[c[0] for c in CASES])
def test_a_job_is_deleted_when_its_step_ends(task_name, plural, jobs):
    """The task's exit hook deletes the job by its run-and-stage label, whatever the step's end."""
    checked = 0
    for name, template, job in jobs:
        if name == "fmops-validate-cluster":
            continue
        (doc,) = [d for _, d in documents() if d["metadata"]["name"] == name]
        templates_by_name = {t["name"]: t for t in spec_of(doc)["templates"]}
        (task,) = [
            t
            for tpl in templates_by_name.values()
            for t in (tpl.get("dag") or {}).get("tasks", [])
            if t["name"] == task_name
        ]
        called = templates_by_name[task["template"]]
        inner = [t["template"] for t in (called.get("dag") or {}).get("tasks", [])]
        # the job's own template, or (a TrainJob) the DAG that runs it and then says why it failed
        assert template["name"] in [task["template"], *inner]
        hook = templates_by_name[task["hooks"]["exit"]["template"]]["resource"]
        label = next(iter(job["metadata"]["labels"].items()))
        assert hook["action"] == "delete" and hook["flags"] == [
            plural,
            "--selector",
            "=".join(label),
            "--ignore-not-found",
        ]
        checked += 1
    assert checked == 3
