"""The local executor in-process: what it refuses before anything runs, parameter binding, the local profile
and the engine's rules for depends, retries and outputs. Running steps as processes is in tests/e2e."""

from pathlib import Path

import pytest
from fmops.argo.documents import Library
from fmops.argo.local import calls, engine, loops, outputs, pods, profile, retries, runner, support, walk
from fmops.argo.local.engine import Engine
from fmops.argo.local.nodes import Node
from fmops.argo.local.parameters import bind
from fmops.argo.local.pods import Outcome
from fmops.argo.local.runner import RunOptions, run_workflow, unsupported_on_path, workflow_variables
from fmops.core.errors import InputError

from tests.helpers import ROOT, cli
from tests.unit.argo.examples import CHAIN, DIAMOND, HELLO, REF, workflows_dir

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
        run_workflow(
            RunOptions(
                template="chain",
                parameters={"counter": "c", "gate-file": "open"},
                workflows=wf,
                workdir=tmp_path / "open",
            )
        )
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
    assert (result.returncode, result.stderr) == (
        2,
        f"fmops run: error: {tmp_path}: not an fmops run directory (no run.json)\n",
    )


def test_every_committed_template_can_run_here_with_the_local_profile(tmp_path: Path):
    library = Library.load(ROOT / "workflows")
    runs = [
        ("fmops-pipeline", {}),
        ("fmops-pipeline", {"tokenize": "true"}),
        ("fmops-continuous-pretrain", {}),
        ("fmops-continuous-pretrain", {"tokenize": "true"}),
        ("fmops-monitor", {}),
    ]
    for name, given in runs:
        document = library.document(name)
        values, _ = profile.workflow_parameters(document.spec, given, tmp_path)
        entry = library.local(document, document.spec["entrypoint"])
        assert unsupported_on_path(library, entry, workflow_variables(document, "r", values), set()) == [], name
        runner.check(library, document, entry, workflow_variables(document, "r", values))  # no unknown variable


def multi_node_run(tmp_path: Path, **given: str):
    library = Library.load(ROOT / "workflows")
    document = library.document("fmops-sft")
    given = {"model": "tiny", "data": "d.jsonl", "output": str(tmp_path / "out"), "nodes": "2", **given}
    values, _ = profile.workflow_parameters(document.spec, given, tmp_path)
    entry = library.local(document, document.spec["entrypoint"])
    variables = workflow_variables(document, "r", values)
    assert unsupported_on_path(library, entry, variables, set()) == []
    runner.check(library, document, entry, variables)
    return library, document, variables


def test_a_multi_node_training_step_and_its_job_clean_up_can_run_here(tmp_path: Path):
    """nodes=2 with job-kind=pytorchjob takes the PyTorchJob path (local torchrun) and its exit hook, which
    deletes the job on a cluster and has nothing to delete here."""
    library, document, _ = multi_node_run(tmp_path, **{"job-kind": "pytorchjob"})
    cleanup = library.local(document, "delete-pytorchjob").template
    assert support.deletes_a_pytorchjob(cleanup)
    assert not support.deletes_a_pytorchjob({"resource": {"action": "delete", "flags": ["deployments"]}})


def test_a_multi_node_trainjob_step_and_its_clean_up_can_run_here(tmp_path: Path):
    """nodes=2 by default takes the TrainJob path: its trainer command under a local torchrun of numNodes
    processes, and its exit hook, which has nothing to delete here."""
    library, document, variables = multi_node_run(tmp_path)
    assert support.deletes_a_pytorchjob(library.local(document, "delete-trainjob").template)
    template = library.local(document, "trainjob").template
    inputs = {
        "inputs.parameters.nodes": "2",
        "inputs.parameters.gpus-per-node": "1",
        "inputs.parameters.efa-per-node": "0",
        "inputs.parameters.strategy": "ddp",
        "inputs.parameters.model": "tiny",
        "inputs.parameters.data": "d.jsonl",
        "inputs.parameters.output": "out",
        "inputs.parameters.recipe": "",
        "inputs.parameters.lora": "false",
        "inputs.parameters.image": "fmops-train",
        "workflow.uid": "u",
    }
    process = pods.pytorchjob_process(template, {**variables, **inputs}, tmp_path)
    assert process.command[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    assert process.command[6:10] == ["-m", "fmops.cli", "launch", "--nodes"]
    assert process.command[-4:] == ["--config", "", "--set", "lora=false"]
    assert "TrainJob of 2 node(s)" in process.notes[0]


# ---- parameters ------------------------------------------------------------------------------------------


def test_bind_passed_then_value_then_default_then_missing():
    declared = [{"name": "a"}, {"name": "b", "value": "v"}, {"name": "c", "default": "{{x}}"}, {"name": "d"}]
    values = bind(
        declared, {"a": "1", "zzz": "ignored"}, expand=lambda t: t.replace("{{x}}", "X"), missing=None, not_allowed=None
    )
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
    spec = {
        "arguments": {
            "parameters": [
                {"name": "storage-root", "value": "s3://b/x"},
                {"name": "deploy-target", "value": "cluster", "enum": ["cluster", "local"]},
                {"name": "model"},
            ]
        }
    }
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
    enum = {
        "template": {
            "name": "t",
            "inputs": {"parameters": [{"name": "m", "default": "{{workflow.name}}", "enum": ["w"]}]},
        }
    }
    scoped = type(scope)(scope.document, enum["template"])
    assert runner.resolve_inputs(scoped, {}) == {"m": "w"}
    with pytest.raises(InputError, match=r"^template 't': input 'm'='x' is not one of \['w'\]$"):
        runner.resolve_inputs(scoped, {"m": "x"})


# ---- engine rules ----------------------------------------------------------------------------------------


def test_dependencies_and_handled_failures_come_from_depends():
    call = {"depends": "A && (B.Succeeded || C.Failed) && D.AllFailed"}
    assert walk.dependencies(call) == ["A", "B", "C", "D"]
    assert walk.handled_failures(call) == {"C", "D"}
    assert walk.dependencies({"dependencies": ["X"]}) == ["X"]
    assert walk.handled_failures({"dependencies": ["X"]}) == set()


@pytest.mark.parametrize(
    "retry, outcome, allowed",
    [
        ({}, Outcome("Failed", 1), True),
        ({}, Outcome("Error"), False),
        ({"retryPolicy": "OnError"}, Outcome("Error"), True),
        ({"expression": "asInt(lastRetry.exitCode) == 75"}, Outcome("Failed", 75), True),
        ({"expression": "asInt(lastRetry.exitCode) == 75"}, Outcome("Failed", 1), False),
        ({"expression": "lastRetry.exitCode == 75"}, Outcome("Failed", 75), False),  # a string in Argo, too
        ({"retryPolicy": "Always"}, Outcome("Error"), True),
    ],
)
def test_retry_policy_and_expression(retry, outcome, allowed):
    assert retries.retryable(retry, outcome) is allowed


def test_outputs_of_a_dag_and_of_its_tasks():
    node = Node("main/A", "echo", phase="Succeeded", outputs={"out": "hi"})
    node.result, node.exit_code = "printed", "0"
    variables = outputs.call_variables("tasks", "A", node)
    assert {k: v for k, v in variables.items() if not k.endswith("At")} == {
        "tasks.A.outputs.parameters.out": "hi",
        "tasks.A.outputs.parameters": '{"out":"hi"}',
        "tasks.A.id": "main/A",
        "tasks.A.status": "Succeeded",
        "tasks.A.outputs.result": "printed",
        "tasks.A.exitCode": "0",
    }
    output = {"name": "r", "valueFrom": {"parameter": "{{tasks.A.outputs.parameters.out}}"}}
    template = {"outputs": {"parameters": [output]}}
    assert outputs.composite_outputs(template, variables)["parameters"] == {"r": "hi"}


def test_a_loop_aggregates_its_children_outputs_as_json_lists():
    children = [
        Node("m/L(0:1)", "t", phase="Succeeded", outputs={"n": "1"}, result='{"a": 1}'),
        Node("m/L(1:x)", "t", phase="Succeeded", outputs={"n": "x"}, result="plain"),
    ]
    variables = outputs.call_variables("steps", "L", Node("m/L", "t", phase="Succeeded", leaf=False), children)
    assert variables["steps.L.outputs.parameters.n"] == '[1,"x"]'
    assert variables["steps.L.outputs.result"] == '[{"a":1},"plain"]'


@pytest.mark.parametrize(
    "call, items",
    [
        ({"withItems": [1, "b", {"k": "v"}]}, [1, "b", {"k": "v"}]),
        ({"withParam": '["x", {"y": 2}]'}, ["x", {"y": 2}]),
        ({"withSequence": {"count": "3"}}, ["0", "1", "2"]),
        ({"withSequence": {"start": "2", "end": "{{n}}"}}, ["2", "3", "4"]),
        ({"withSequence": {"start": "3", "end": "1"}}, ["3", "2", "1"]),
        ({"withSequence": {"count": "2", "format": "x%02d"}}, ["x00", "x01"]),
        ({}, None),
    ],
)
def test_loop_items(call, items):
    assert loops.loop_items(call, {"n": "4"}) == items


def test_item_variables_and_arguments_of_skipped_producers():
    assert loops.item_variables({"k": "v"}) == {"item": {"k": "v"}, "item.k": "v"}
    call = {
        "arguments": {
            "parameters": [
                {"name": "in", "value": "{{tasks.p.outputs.parameters.msg}}"},
                {"name": "x", "value": "{{item.k}}"},
            ]
        }
    }
    assert calls.call_arguments(call, {"tasks.p.status": "Skipped", "item.k": "v"}) == {"x": "v"}
    with pytest.raises(InputError, match="no such variable"):
        calls.call_arguments(call, {"tasks.p.status": "Succeeded", "item.k": "v"})


def test_template_defaults_merge_under_the_template():
    defaults = {"retryStrategy": {"limit": 2}, "timeout": "30s", "container": {"env": [{"name": "A", "value": "1"}]}}
    merged = engine.merge(defaults, {"name": "t", "container": {"image": "busybox"}, "timeout": "5s"})
    assert merged == {
        "retryStrategy": {"limit": 2},
        "timeout": "5s",
        "name": "t",
        "container": {"env": [{"name": "A", "value": "1"}], "image": "busybox"},
    }


def test_generate_name_answers_with_and_without_its_dash(tmp_path: Path):
    text = DIAMOND.replace("  name: diamond\n", "  generateName: diamond-\n")
    header = "kind: WorkflowTemplate\nmetadata:\n  generateName"
    text = text.replace(header, header.replace("WorkflowTemplate", "Workflow"), 1)
    library = Library.load(workflows_dir(tmp_path, diamond=text))
    assert library.document("diamond-").kind == "Workflow"
    assert library.document("diamond") is library.document("diamond-")


def test_a_parameter_the_workflow_does_not_declare_is_one_line_exit_2(tmp_path: Path):
    wf = workflows_dir(tmp_path, hello=HELLO)
    result = run(tmp_path, wf, "hello", "-p", "mesage=x")
    assert (result.returncode, result.stderr) == (
        2,
        "fmops run: error: -p mesage: not a parameter of this workflow (has: message)\n",
    )
    assert not (tmp_path / "run" / "run.json").exists()


def test_workflow_template_ref_runs_the_template_with_the_workflow_arguments(tmp_path: Path):
    wf = workflows_dir(tmp_path, hello=HELLO, ref=REF)
    library, document = runner.load(RunOptions(template="ref-", workflows=wf))
    assert document.spec["entrypoint"] == "main"
    assert [p["value"] for p in document.spec["arguments"]["parameters"]] == ["from the workflow"]
    assert library.local(document, "main").template["inputs"]["parameters"] == [{"name": "message"}]


def test_unsupported_fields_are_named_with_their_template(tmp_path: Path):
    wf = workflows_dir(tmp_path, hello=HELLO.replace("    container:", "    daemon: true\n    container:"))
    result = run(tmp_path, wf, "hello")
    assert (result.returncode, result.stderr) == (
        2,
        "fmops run: error: cannot run faithfully on this machine: hello-/main: field 'daemon'\n",
    )


def test_an_unknown_variable_is_refused_with_its_template(tmp_path: Path):
    wf = workflows_dir(tmp_path, hello=HELLO.replace("{{inputs.parameters.message}}", "{{inputs.parameters.mesage}}"))
    result = run(tmp_path, wf, "hello")
    line = "cannot run faithfully on this machine: hello-/main: unknown variable '{{inputs.parameters.mesage}}'"
    assert (result.returncode, result.stderr) == (2, f"fmops run: error: {line}\n")
    assert not (tmp_path / "run" / "run.json").exists()


@pytest.mark.parametrize(
    ("expression", "unknown"),
    [
        ("{{=inputs.parameters['mesage'] + '!'}}", "inputs.parameters.mesage"),
        ("{{=asInt(workflow.parameters.count) > 1 ? 'many' : 'one'}}", "workflow.parameters.count"),
        ("{{=sprig.upper(tasks['nope'].outputs.result)}}", "tasks.nope.outputs.result"),
    ],
)
def test_an_unknown_variable_inside_an_expression_is_refused_before_anything_runs(tmp_path, expression, unknown):
    wf = workflows_dir(tmp_path, hello=HELLO.replace("{{inputs.parameters.message}}", expression))
    result = run(tmp_path, wf, "hello")
    line = f"cannot run faithfully on this machine: hello-/main: unknown variable '{unknown}' in '{expression}'"
    assert (result.returncode, result.stderr) == (2, f"fmops run: error: {line}\n")
    assert not (tmp_path / "run" / "run.json").exists()


def test_an_expression_with_known_variables_and_its_own_names_is_accepted(tmp_path):
    expression = "{{=sprig.upper(inputs.parameters.message) + string(len(filter([1, 2, 3], {# > 1})))}}"
    wf = workflows_dir(tmp_path, hello=HELLO.replace("{{inputs.parameters.message}}", expression))
    result = run(tmp_path, wf, "hello")
    assert result.returncode == 0, result.stderr
    assert [log.read_text() for log in (tmp_path / "run" / "steps").glob("*/log.txt")] == ["$ echo HELLO2\nHELLO2\n"]


def test_a_workflow_file_runs_as_argo_submit_file(tmp_path: Path):
    wf = workflows_dir(tmp_path, ref=REF)
    (tmp_path / "empty").mkdir()
    library, document = runner.load(RunOptions(template=str(wf / "ref.yaml"), workflows=tmp_path / "empty"))
    assert document.name == "ref-" and "hello-template" in library.documents
