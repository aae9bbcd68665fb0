"""`fmops run --workflows DIR` on YAML that fmops did not render: written here by hand, as a user would."""

import json
from pathlib import Path

import pytest

from tests.helpers import fmops

DIAMOND = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: diamond
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: greeting
      value: hello
  templates:
  - name: main
    dag:
      tasks:
      - name: A
        template: echo
        arguments: {parameters: [{name: text, value: "{{workflow.parameters.greeting}}"}]}
      - name: B
        depends: A
        template: echo
        arguments: {parameters: [{name: text, value: "{{tasks.A.outputs.parameters.out}} world"}]}
      - name: C
        depends: A
        template: fail
      - name: D
        depends: "B.Succeeded || C.Failed"
        template: echo
        arguments: {parameters: [{name: text, value: "D saw {{tasks.B.outputs.parameters.out}}"}]}
      - name: never
        depends: A
        when: "'{{tasks.A.outputs.parameters.out}}' == 'goodbye'"
        template: echo
        arguments: {parameters: [{name: text, value: unused}]}
      - name: flaky
        template: flaky
      - name: remote
        depends: D && flaky
        templateRef: {name: library, template: upper}
        arguments: {parameters: [{name: text, value: "{{tasks.D.outputs.parameters.out}}"}]}
      - name: last
        depends: remote
        template: echo
        arguments: {parameters: [{name: text, value: "{{tasks.remote.outputs.parameters.shouted}}"}]}
  - name: echo
    inputs: {parameters: [{name: text}]}
    container:
      image: busybox:1.36
      command: [sh, -c]
      args: ["printf '%s' '{{inputs.parameters.text}}' > /tmp/out.txt"]
    outputs: {parameters: [{name: out, valueFrom: {path: /tmp/out.txt}}]}
  - name: fail
    container: {image: busybox:1.36, command: [sh, -c], args: ["echo failing on purpose; exit 3"]}
  - name: flaky
    retryStrategy: {limit: 2}
    container:
      image: busybox:1.36
      command: [sh, -c]
      args: ["if [ -f tried ]; then echo second try; else touch tried; echo first try fails; exit 1; fi"]
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: library
spec:
  templates:
  - name: upper
    inputs: {parameters: [{name: text}]}
    container:
      image: python:3.11-slim
      command: [python, -c]
      args: ["import sys; open('/tmp/shout', 'w').write(sys.argv[1].upper())", "{{inputs.parameters.text}}"]
    outputs: {parameters: [{name: shouted, valueFrom: {path: /tmp/shout}}]}
"""

CHAIN = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: chain
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: gate-file}
    - {name: counter}
  templates:
  - name: main
    dag:
      tasks:
      - {name: first, template: count}
      - {name: second, depends: first, template: gated}
      - {name: third, depends: second, template: count}
  - name: count
    container:
      image: busybox:1.36
      command: [sh, -c]
      args: ["echo x >> {{workflow.parameters.counter}}"]
  - name: gated
    container:
      image: busybox:1.36
      command: [sh, -c]
      args: ["test -f {{workflow.parameters.gate-file}} || { echo gate closed; exit 4; }"]
"""


def run_dir_of(stderr: str) -> Path:
    line = next(line for line in stderr.splitlines() if line.startswith("running "))
    return Path(line.rsplit(" in ", 1)[1])


def nodes(run_dir: Path) -> dict[str, dict]:
    return json.loads((run_dir / "run.json").read_text())["nodes"]


@pytest.fixture
def diamond(tmp_path: Path) -> Path:
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "diamond.yaml").write_text(DIAMOND, encoding="utf-8")
    return tmp_path


def test_diamond_runs_in_dependency_order_with_outputs_retries_and_when(diamond: Path):
    result = fmops("run", "diamond", "--workflows", str(diamond / "wf"), "--workdir", str(diamond / "run"), check=False)
    assert result.returncode == 0, result.stderr
    state = nodes(diamond / "run")
    phases = {k.removeprefix("main/"): v["phase"] for k, v in state.items()}
    assert phases == {
        "main": "Succeeded",
        "A": "Succeeded",
        "B": "Succeeded",
        "C": "Failed",
        "D": "Succeeded",
        "never": "Skipped",
        "flaky": "Succeeded",
        "remote": "Succeeded",
        "last": "Succeeded",
    }
    assert state["main/B"]["outputs"] == {"out": "hello world"}
    assert state["main/D"]["outputs"] == {"out": "D saw hello world"}
    assert state["main/last"]["outputs"] == {"out": "D SAW HELLO WORLD"}
    assert state["main/flaky"]["attempts"] == 2
    log = Path(state["main/flaky"]["log"]).read_text()
    assert "first try fails" in log and "second try" in log
    order = sorted((v["started"], k) for k, v in state.items() if v["started"] and k != "main")
    started = [k.removeprefix("main/") for _, k in order]
    assert (
        started.index("A") < started.index("B") < started.index("D") < started.index("remote") < started.index("last")
    )


def test_failure_stops_dependants_names_the_step_and_resume_reruns_only_the_rest(tmp_path: Path):
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "chain.yaml").write_text(CHAIN, encoding="utf-8")
    counter, gate = tmp_path / "counter", tmp_path / "gate"
    args = [
        "run",
        "chain",
        "--workflows",
        str(tmp_path / "wf"),
        "--workdir",
        str(tmp_path / "run"),
        "-p",
        f"counter={counter}",
        "-p",
        f"gate-file={gate}",
    ]
    failed = fmops(*args, check=False)
    assert failed.returncode == 1
    state = nodes(tmp_path / "run")
    assert (state["main/first"]["phase"], state["main/second"]["phase"], state["main/third"]["phase"]) == (
        "Succeeded",
        "Failed",
        "Omitted",
    )
    log = state["main/second"]["log"]
    assert f"failed: main/second: exit status 4; log: {log}" in failed.stderr
    assert "gate closed" in Path(log).read_text()
    assert counter.read_text() == "x\n"

    gate.touch()
    resumed = fmops("run", "--resume", str(tmp_path / "run"), check=False)
    assert resumed.returncode == 0, resumed.stderr
    state = nodes(tmp_path / "run")
    assert {k: v["phase"] for k, v in state.items()} == {
        "main": "Succeeded",
        "main/first": "Succeeded",
        "main/second": "Succeeded",
        "main/third": "Succeeded",
    }
    assert state["main/first"]["message"] == "reused from the earlier run"
    assert counter.read_text() == "x\nx\n"  # first did not run again; third ran once


def test_unsupported_field_on_the_path_is_reported_before_anything_runs(tmp_path: Path):
    (tmp_path / "wf").mkdir()
    text = CHAIN.replace("  - name: gated\n", "  - name: gated\n    sidecars: [{name: s, image: busybox:1.36}]\n")
    (tmp_path / "wf" / "chain.yaml").write_text(text, encoding="utf-8")
    counter = tmp_path / "counter"
    result = fmops(
        "run",
        "chain",
        "--workflows",
        str(tmp_path / "wf"),
        "--workdir",
        str(tmp_path / "run"),
        "-p",
        f"counter={counter}",
        "-p",
        "gate-file=x",
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "fmops run: error: cannot run faithfully on this machine: chain/gated: field 'sidecars'"
    )
    assert not counter.exists()


def test_unknown_parameter_and_missing_template_are_bad_input(diamond: Path):
    result = fmops("run", "diamond", "--workflows", str(diamond / "wf"), "-p", "greting=hi", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "fmops run: error: -p greting: not a parameter of this workflow (has: greeting)"
    result = fmops("run", "nope", "--workflows", str(diamond / "wf"), check=False)
    assert result.returncode == 2
    assert "no WorkflowTemplate, CronWorkflow or Workflow named 'nope'" in result.stderr
