"""A PyTorchJob never outlives the step that made it: train-distributed's exit hook deletes it."""

from __future__ import annotations

from tests.infra.workflow_docs import documents, pytorchjobs, spec_of

JOBS = pytorchjobs()


def test_a_job_is_deleted_when_its_step_ends():
    """train-distributed's exit hook deletes the job by its run-and-stage label, whatever the step's end."""
    checked = 0
    for name, _, job in JOBS:
        if name == "fmops-validate-cluster":
            continue
        (doc,) = [d for _, d in documents() if d["metadata"]["name"] == name]
        templates_by_name = {t["name"]: t for t in spec_of(doc)["templates"]}
        (task,) = [
            t
            for tpl in templates_by_name.values()
            for t in (tpl.get("dag") or {}).get("tasks", [])
            if t["name"] == "train-distributed"
        ]
        hook = templates_by_name[task["hooks"]["exit"]["template"]]["resource"]
        label = next(iter(job["metadata"]["labels"].items()))
        assert hook["action"] == "delete" and hook["flags"][:3] == [
            "pytorchjobs.kubeflow.org",
            "--selector",
            "=".join(label),
        ]
        checked += 1
    assert checked == 3
