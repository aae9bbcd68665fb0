"""The local executor in-process: what it refuses before anything runs, parameter binding, the local profile
and the engine's rules for depends, retries and outputs. Running steps as processes is in tests/e2e."""

from pathlib import Path

import pytest
from fmops.argo.documents import Library
from fmops.argo.local import engine, profile
from fmops.argo.local.engine import Engine, Node
from fmops.argo.local.parameters import bind
from fmops.argo.local.pods import Outcome
from fmops.argo.local.runner import RunOptions, run_workflow, unsupported_on_path, workflow_variables
from fmops.core.errors import InputError

from tests.helpers import ROOT, cli
from tests.unit.argo.examples import CHAIN, DIAMOND, workflows_dir

SIDECAR = "  - name: gated\n    sidecars: [{name: s, image: busybox:1.36}]\n"


def run(tmp_path: Path, wf: Path, *args: str):
    return cli("run", *args, "--workflows", str(wf), "--workdir", str(tmp_path / "run"))


def test_unsupported_field_on_the_path_is_reported_before_anything_runs(tmp_path: Path):
    wf = workflows_dir(tmp_path, chain=CHAIN.replace("  - name: gated\n", SIDECAR))
    counter = tmp_path / "counter"
    result = run(tmp_path, wf, "chain", "-p", f"counter={counter}", "-p", "gate-file=x")
    assert result.returncode == 2
    assert result.stderr == "fmops run: error: cannot run faithfully on this machine: chain/gated: field 'sidecars'\n"
    assert not counter.exists() and not (tmp_path / "run" / "run.json").exists()


def test_a_branch_whose_when_is_statically_false_is_not_checked(tmp_path: Path):
    text = CHAIN.replace("  - name: gated\n", SIDECAR).replace(
        "{name: second, depends: first, template: gated}",
        "{name: second, depends: first, template: gated, when: \"'{{workflow.parameters.gate-file}}' == 'open'\"}",
    )
    wf = workflows_dir(tmp_path, chain=text)
    with pytest.raises(InputError, match="chain/gated: field 'sidecars'"):
        run_workflow(RunOptions(template="chain", parameters={"counter": "c", "gate-file": "open"}, workflows=wf,
                                workdir=tmp_path / "open"))  # fmt: skip
    library = Library.load(wf)
    chain = library.document("chain")
    variables = {"workflow.parameters.gate-file": "closed", "workflow.parameters.counter": "c"}
    assert unsupported_on_path(library, library.local(chain, "main"), variables, set()) == []


def test_a_dangling_template_ref_is_refused_before_anything_runs(tmp_path: Path):
    wf = workflows_dir(tmp_path, diamond=DIAMOND.replace("templateRef: {name: library,", "templateRef: {name: librar,"))
    result = run(tmp_path, wf, "diamond")
    assert result.returncode == 2
    assert result.stderr == (
        "fmops run: error: cannot run faithfully on this machine: "
        "diamond/main: task 'remote': templateRef: no WorkflowTemplate named 'librar'\n"
    )


def test_unknown_parameter_and_missing_template_are_bad_input(tmp_path: Path):
    wf = workflows_dir(tmp_path, diamond=DIAMOND)
    result = run(tmp_path, wf, "diamond", "-p", "greting=hi")
    assert result.returncode == 2
    assert result.stderr == "fmops run: error: -p greting: not a parameter of this workflow (has: greeting)\n"
    result = run(tmp_path, wf, "nope")
    assert result.returncode == 2
    assert "no WorkflowTemplate, CronWorkflow or Workflow named 'nope'" in result.stderr
    assert run(tmp_path, wf, "diamond", "-p", "greeting").stderr == (
        "fmops run: error: -p greeting: expected NAME=VALUE\n"
    )


def test_resume_needs_a_run_directory(tmp_path: Path):
    result = cli("run", "--resume", str(tmp_path))
    assert (result.returncode, result.stderr) == (2, f"fmops run: error: {tmp_path}: not an fmops run directory "
                                                     "(no run.json)\n")  # fmt: skip


def test_every_committed_template_can_run_here_with_the_local_profile(tmp_path: Path):
    library = Library.load(ROOT / "workflows")
    for name in ("fmops-pipeline", "fmops-continuous-pretrain", "fmops-monitor"):
        document = library.document(name)
        values, _ = profile.workflow_parameters(document.spec, {}, tmp_path)
        entry = library.local(document, document.spec["entrypoint"])
        assert unsupported_on_path(library, entry, workflow_variables(document, "r", values), set()) == [], name


# ---- parameters ------------------------------------------------------------------------------------------


def test_bind_passed_then_value_then_default_then_missing():
    declared = [{"name": "a"}, {"name": "b", "value": "v"}, {"name": "c", "default": "{{x}}"}, {"name": "d"}]
    values = bind(declared, {"a": "1", "zzz": "ignored"}, expand=lambda t: t.replace("{{x}}", "X"),
                  missing=None, not_allowed=None)  # fmt: skip
    assert values == {"a": "1", "b": "v", "c": "X", "d": ""}
    with pytest.raises(InputError, match="^need d$"):
        bind(declared, {"a": "1"}, missing="need {name}", not_allowed=None)


def test_bind_checks_the_enum():
    declared = [{"name": "mode", "value": "a", "enum": ["a", "b"]}]
    assert bind(declared, {}, missing="", not_allowed="") == {"mode": "a"}
    with pytest.raises(InputError, match=r"^mode=c not in a, b \['a', 'b'\]$"):
        bind(declared, {"mode": "c"}, missing="", not_allowed="{name}={value} not in {choices} {enum}")
    assert bind(declared, {"mode": "c"}, missing=None, not_allowed=None) == {"mode": "c"}


def test_local_profile_moves_storage_and_notes_it(tmp_path: Path):
    spec = {"arguments": {"parameters": [{"name": "storage-root", "value": "s3://b/x"}, {"name": "deploy-target",
            "value": "cluster", "enum": ["cluster", "local"]}, {"name": "model"}]}}  # fmt: skip
    values, notes = profile.workflow_parameters(spec, {"model": "m", "deploy-target": "cluster"}, tmp_path)
    assert values == {"storage-root": str(tmp_path / "storage"), "deploy-target": "cluster", "model": "m"}
    assert notes == [f"local profile: storage-root={tmp_path / 'storage'} (template default: s3://b/x)"]
    with pytest.raises(InputError, match=r"^parameter 'model' has no default: pass -p model=VALUE$"):
        profile.workflow_parameters(spec, {}, tmp_path)
    with pytest.raises(InputError, match=r"^-p deploy-target=k8s: must be one of cluster, local$"):
        profile.workflow_parameters(spec, {"model": "m", "deploy-target": "k8s"}, tmp_path)


def test_template_inputs_are_resolved_with_workflow_variables(tmp_path: Path):
    library = Library.load(workflows_dir(tmp_path, diamond=DIAMOND))
    scope = library.local(library.document("diamond"), "echo")
    runner = Engine(library, tmp_path, {"workflow.name": "w"})
    assert runner.resolve_inputs(scope, {"text": "hi"}) == {"text": "hi"}
    with pytest.raises(InputError, match="^template 'echo': required input 'text' was not passed$"):
        runner.resolve_inputs(scope, {})
    enum = {"template": {"name": "t", "inputs": {"parameters": [{"name": "m", "default": "{{workflow.name}}",
            "enum": ["w"]}]}}}  # fmt: skip
    scoped = type(scope)(scope.document, enum["template"])
    assert runner.resolve_inputs(scoped, {}) == {"m": "w"}
    with pytest.raises(InputError, match=r"^template 't': input 'm'='x' is not one of \['w'\]$"):
        runner.resolve_inputs(scoped, {"m": "x"})


# ---- engine rules ----------------------------------------------------------------------------------------


def test_dependencies_and_handled_failures_come_from_depends():
    call = {"depends": "A && (B.Succeeded || C.Failed) && D.AllFailed"}
    assert engine.dependencies(call) == ["A", "B", "C", "D"]
    assert engine.handled_failures(call) == {"C", "D"}
    assert engine.dependencies({"dependencies": ["X"]}) == ["X"]
    assert engine.handled_failures({"dependencies": ["X"]}) == set()


@pytest.mark.parametrize(
    "retry, outcome, allowed",
    [
        ({}, Outcome("Failed", 1), True),
        ({}, Outcome("Error"), False),
        ({"retryPolicy": "OnError"}, Outcome("Error"), True),
        ({"expression": "lastRetry.exitCode == 75"}, Outcome("Failed", 75), True),
        ({"expression": "lastRetry.exitCode == 75"}, Outcome("Failed", 1), False),
    ],
)
def test_retry_policy_and_expression(retry, outcome, allowed):
    assert engine.retryable(retry, outcome) is allowed


def test_outputs_of_a_dag_and_of_its_tasks():
    node = Node("main/A", "echo", phase="Succeeded", outputs={"out": "hi"})
    variables = engine.call_variables("tasks", "A", node)
    assert variables == {"tasks.A.outputs.parameters.out": "hi", "tasks.A.status": "Succeeded"}
    output = {"name": "r", "valueFrom": {"parameter": "{{tasks.A.outputs.parameters.out}}"}}
    template = {"outputs": {"parameters": [output]}}
    assert engine.composite_outputs(template, variables) == {"r": "hi"}
