"""What Argo refuses when a workflow is submitted and the executor therefore refuses before any step runs:
a task or step whose arguments do not supply an input its template requires."""

from pathlib import Path

import pytest

from tests.helpers import cli
from tests.unit.argo.examples import workflows_dir

ECHO = """  - name: echo
    inputs:
      parameters:
      - {name: text}
      - {name: tone, default: plain}
    container: {image: busybox, command: [echo, "{{inputs.parameters.text}} {{inputs.parameters.tone}}"]}"""
DAG = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: missing-
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: marker}
  templates:
  - name: main
    dag:
      tasks:
      - {name: first, template: touch}
      - name: second
        depends: first
        template: echo
ARGUMENTS
  - name: touch
    container: {image: busybox, command: [touch, "{{workflow.parameters.marker}}"]}
ECHO
""".replace("ECHO", ECHO)
STEPS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: missing-
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: marker}
  templates:
  - name: main
    steps:
    - - {name: first, template: touch}
    - - name: second
        template: echo
ARGUMENTS
  - name: touch
    container: {image: busybox, command: [touch, "{{workflow.parameters.marker}}"]}
ECHO
""".replace("ECHO", ECHO)
UNSUPPLIED = {
    "missing": "",
    "null": "        arguments: null",
    "empty": "        arguments: {parameters: []}",
    "a name without a value": "        arguments: {parameters: [{name: text}]}",
    "another parameter": "        arguments: {parameters: [{name: tone, value: loud}]}",
}


def run(tmp_path: Path, text: str):
    wf = workflows_dir(tmp_path, missing=text)
    marker = tmp_path / "marker"
    result = cli("run", "missing", "--workflows", str(wf), "--workdir", str(tmp_path / "run"), "-p", f"marker={marker}")
    return result, wf / "missing.yaml", marker


@pytest.mark.parametrize("arguments", UNSUPPLIED.values(), ids=UNSUPPLIED.keys())
@pytest.mark.parametrize(("kind", "text"), [("task", DAG), ("step", STEPS)])
def test_a_required_input_not_supplied_is_refused_before_any_step_runs(tmp_path: Path, kind, text, arguments):
    result, file, marker = run(tmp_path, text.replace("ARGUMENTS", arguments))
    line = f"{file}: template 'main': {kind} 'second': inputs.parameters.text was not supplied"
    assert (result.returncode, result.stderr) == (2, f"fmops run: error: {line}\n")
    assert not marker.exists()  # the first step, which needs nothing, did not run either
    assert not (tmp_path / "run" / "run.json").exists() and not (tmp_path / "run" / "steps").exists()


@pytest.mark.slow
def test_an_input_with_a_default_or_a_supplied_value_runs(tmp_path: Path):
    result, _, marker = run(
        tmp_path, DAG.replace("ARGUMENTS", "        arguments: {parameters: [{name: text, value: hi}]}")
    )
    assert result.returncode == 0, result.stderr
    assert marker.exists()
    assert (tmp_path / "run" / "steps" / "main.second" / "log.txt").read_text() == "$ echo hi plain\nhi plain\n"


def test_a_branch_whose_when_is_false_must_still_supply_its_inputs(tmp_path: Path):
    text = DAG.replace("ARGUMENTS", "        when: 'false'")
    result, file, marker = run(tmp_path, text)
    assert result.returncode == 2
    assert result.stderr.endswith(f"{file}: template 'main': task 'second': inputs.parameters.text was not supplied\n")
    assert not marker.exists()


def test_the_entrypoint_takes_its_inputs_from_the_workflow_arguments(tmp_path: Path):
    entry = "  - name: main\n    inputs: {parameters: [{name: marker}, {name: absent}]}\n"
    text = DAG.replace("ARGUMENTS", "        arguments: {parameters: [{name: text, value: hi}]}")
    result, file, marker = run(tmp_path, text.replace("  - name: main\n", entry))
    line = f"{file}: entrypoint 'main': inputs.parameters.absent was not supplied"
    assert (result.returncode, result.stderr) == (2, f"fmops run: error: {line}\n")
    assert not marker.exists()
