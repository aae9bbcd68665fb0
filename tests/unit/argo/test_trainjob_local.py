"""A failed TrainJob under `fmops run`: the TrainJob step fails as its local processes did, and the step that
reads the TrainJob's Failed condition on a cluster fails here with that same message, without calling any
cluster. The processes are replaced by their outcome, so nothing is started."""

from pathlib import Path

import pytest
from fmops.argo.documents import Library
from fmops.argo.local import leaf, profile, support
from fmops.argo.local.engine import Engine
from fmops.argo.local.nodes import Context
from fmops.argo.local.pods import Outcome
from fmops.argo.local.runner import workflow_variables

from tests.helpers import ROOT

CRASH = "exit code 2: rank 1: CUDA out of memory"


@pytest.fixture
def sft(tmp_path: Path):
    library = Library.load(ROOT / "workflows")
    document = library.document("fmops-sft")
    given = {"model": "tiny", "data": "d.jsonl", "output": str(tmp_path / "out"), "nodes": "2"}
    values, _ = profile.workflow_parameters(document.spec, given, tmp_path)
    return library, document, workflow_variables(document, "r", values)


def run_distributed(tmp_path: Path, sft, monkeypatch, outcome: Outcome) -> Engine:
    library, document, variables = sft
    ran = []

    def execute(processes, log, stopping):
        ran.append([name for name, _ in processes])
        return outcome

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))  # a cluster call would fail loudly
    monkeypatch.setattr(leaf, "execute", execute)
    engine = Engine(library, tmp_path, dict(variables))
    scope = library.local(document, "train-distributed")
    passed = {
        p["name"]: variables.get(f"workflow.parameters.{p['name']}", "") for p in scope.template["inputs"]["parameters"]
    }
    engine.run(scope, passed, "sft/train-distributed", Context(dict(variables)))
    assert ran == [["main"]], "the TrainJob's processes ran once (exit 2 is not retried); nothing else ran"
    return engine


def test_the_failure_step_fails_with_the_local_jobs_message(tmp_path: Path, sft, monkeypatch):
    engine = run_distributed(tmp_path, sft, monkeypatch, Outcome("Failed", 2, CRASH))
    nodes = engine.nodes
    assert nodes["sft/train-distributed/trainjob"].phase == "Failed"
    failure = nodes["sft/train-distributed/trainjob-failure"]
    assert (failure.phase, failure.exit_code) == ("Failed", "1")
    assert failure.message == f"TrainJob failed (run here as local processes): sft/train-distributed/trainjob: {CRASH}"
    assert nodes["sft/train-distributed"].phase == "Failed"


def test_a_trainjob_that_succeeds_skips_the_failure_step(tmp_path: Path, sft, monkeypatch):
    engine = run_distributed(tmp_path, sft, monkeypatch, Outcome("Succeeded", 0, "", ""))
    assert engine.nodes["sft/train-distributed"].phase == "Succeeded"
    assert engine.nodes["sft/train-distributed/trainjob-failure"].phase in ("Skipped", "Omitted")


def test_only_the_trainjob_failure_command_is_recognised(sft):
    library, document, _ = sft
    assert support.reports_a_trainjob_failure(library.local(document, "trainjob-failure").template)
    assert not support.reports_a_trainjob_failure(library.local(document, "collect").template)
    assert not support.reports_a_trainjob_failure({"container": {"command": ["sh"], "args": ["trainjob-failure"]}})
