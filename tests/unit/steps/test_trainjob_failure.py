"""`fmops trainjob-failure`: the real kubernetes client, through a kubeconfig, against the fake API server on
loopback (tests/unit/serving/fake_kube.py) holding TrainJobs built from the client's own models. It prints
the newest TrainJob's Failed reason and message as one line and exits 1; it says what it found when there is
no failure to report; a Role that may not list TrainJobs is one line too, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fmops.cli import main
from kubernetes.client import ApiClient, V1Condition, V1ObjectMeta

from tests.unit.serving.fake_kube import FakeKube

SELECTOR = "fmops.io/job=0f0e0d0c-uid-sft"
OOM = "jobset failed due to one or more job failures:\n  node-0: pod fmops-sft-b-node-0-0 OOMKilled"


@pytest.fixture
def kube(tmp_path, monkeypatch):
    fake = FakeKube().start()
    monkeypatch.setenv("KUBECONFIG", str(fake.kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    yield fake
    fake.stop()


def condition(kind: str, status: str, reason: str, message: str) -> V1Condition:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return V1Condition(type=kind, status=status, reason=reason, message=message, last_transition_time=when)


def add_trainjob(fake: FakeKube, name: str, created: str, *conditions: V1Condition, job: str = SELECTOR) -> None:
    label, value = job.split("=")
    created_at = datetime.fromisoformat(created).replace(tzinfo=UTC)
    metadata = V1ObjectMeta(name=name, namespace="fmops", labels={label: value}, creation_timestamp=created_at)
    trainjob = {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "metadata": metadata,
        "spec": {"runtimeRef": {"name": "fmops-torch"}},
        "status": {"conditions": list(conditions)},
    }
    fake.objects[("trainjobs", "fmops", name)] = ApiClient().sanitize_for_serialization(trainjob)


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(["trainjob-failure", "--namespace", "fmops", *args])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


def test_prints_the_newest_trainjobs_failed_reason_and_message(kube, capsys):
    suspended = condition("Suspended", "False", "Resumed", "TrainJob is resumed")
    add_trainjob(kube, "fmops-sft-a", "2026-01-01T00:00:00", suspended, condition("Failed", "True", "FailedJobs", "x"))
    add_trainjob(kube, "fmops-sft-b", "2026-01-01T01:00:00", suspended, condition("Failed", "True", "FailedJobs", OOM))
    other_run = condition("Failed", "True", "DeadlineExceeded", "another run's")
    add_trainjob(kube, "fmops-sft-c", "2026-01-02T00:00:00", other_run, job="fmops.io/job=another-uid-sft")
    assert run(capsys, "--selector", SELECTOR) == (
        1,
        "TrainJob fmops-sft-b (the newest of 2 of this run) failed: FailedJobs: jobset failed due to one or more "
        "job failures: node-0: pod fmops-sft-b-node-0-0 OOMKilled\n",
    )
    (listed,) = [r for r in kube.requests if r["method"] == "GET"]
    assert listed["path"] == "/apis/trainer.kubeflow.org/v1alpha1/namespaces/fmops/trainjobs"
    assert listed["query"]["labelSelector"] == SELECTOR


def test_a_failed_condition_in_first_place_is_found_too(kube, capsys):
    message = "TrainJob exceeded its activeDeadlineSeconds"
    add_trainjob(kube, "fmops-sft-a", "2026-01-01T00:00:00", condition("Failed", "True", "DeadlineExceeded", message))
    assert run(capsys, "--selector", SELECTOR) == (1, f"TrainJob fmops-sft-a failed: DeadlineExceeded: {message}\n")


@pytest.mark.parametrize(
    "conditions, said",
    [
        (
            [condition("Suspended", "True", "Suspended", "TrainJob is suspended")],
            "did not fail: still suspended, Kueue never admitted it (Suspended: TrainJob is suspended)",
        ),
        (
            [condition("Complete", "True", "AllJobsCompleted", "jobset completed successfully")],
            "completed; its step failed for another reason (see that step's message)",
        ),
        ([], "did not fail: it has no condition yet (Trainer has not reconciled it)"),
    ],
)
def test_a_trainjob_that_did_not_fail_is_described(kube, capsys, conditions, said):
    add_trainjob(kube, "fmops-sft-a", "2026-01-01T00:00:00", *conditions)
    assert run(capsys, "--selector", SELECTOR) == (1, f"TrainJob fmops-sft-a {said}\n")


def test_no_trainjob_of_the_run(kube, capsys):
    code, said = run(capsys, "--selector", SELECTOR)
    assert (code, said) == (
        1,
        f"no TrainJob labelled {SELECTOR} in namespace fmops: it was never created (the step's own message "
        "says why) or was deleted\n",
    )


def test_a_role_without_list_is_one_line(kube, capsys):
    kube.forbidden.add("trainjobs")
    assert run(capsys, "--selector", SELECTOR) == (
        1,
        "could not read why the TrainJob failed: cannot list trainjobs in fmops: HTTP 403: trainjobs is "
        'forbidden: cannot list resource "trainjobs"\n',
    )


def test_a_selector_that_selects_nothing_is_bad_input(kube, capsys):
    assert run(capsys, "--selector", " ") == (
        2,
        "fmops trainjob-failure: error: --selector ' ': expected a label selector such as "
        "fmops.io/job=<uid>-pretrain\n",
    )
    assert kube.requests == []
